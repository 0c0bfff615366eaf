import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { InvalidIdError } from '../../src/domain/ids.ts';
import { issueToken, verifyToken, WhipTokenError } from '../../src/domain/whip-token.ts';

const T = { timeout: 5_000 };
const SECRET = 'test-secret-0123456789abcdef';
const NOW = Date.UTC(2026, 10, 30, 9, 0, 0);
const claims = { livestreamId: 'show-1', hostId: 'host_A', expiresAt: NOW + 60_000 };

function refusedWith(code: string, fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof WhipTokenError && err.code === code);
}

test('a token round-trips its claims and is url-safe', T, () => {
  const token = issueToken(SECRET, claims);
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(verifyToken(SECRET, token, NOW), claims);
});

test('a token expires at its expiry instant', T, () => {
  const token = issueToken(SECRET, claims);
  assert.deepEqual(verifyToken(SECRET, token, claims.expiresAt - 1), claims);
  refusedWith('expired', () => verifyToken(SECRET, token, claims.expiresAt));
});

test('another secret, a changed payload or a changed signature is a bad signature', T, () => {
  const token = issueToken(SECRET, claims);
  refusedWith('bad-signature', () => verifyToken('another-secret-0123456789', token, NOW));
  const forged = Buffer.from(
    JSON.stringify({ v: 1, l: 'show-1', h: 'host_B', e: claims.expiresAt }),
  ).toString('base64url');
  const [, signature] = token.split('.');
  refusedWith('bad-signature', () => verifyToken(SECRET, `${forged}.${signature}`, NOW));
  const flipped = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
  refusedWith('bad-signature', () => verifyToken(SECRET, flipped, NOW));
  refusedWith('bad-signature', () => verifyToken(SECRET, `${token.split('.')[0]}.abc`, NOW));
});

test('garbage is malformed', T, () => {
  for (const t of ['', 'abc', 'a.b.c', 'a b.c', 'x'.repeat(2000), '.', 'abc.', 'a+b.c/d'])
    refusedWith('malformed', () => verifyToken(SECRET, t, NOW));
});

test('signed payloads that are not our claims are malformed', T, () => {
  const signed = (body: unknown) => {
    const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
    return `${payload}.${createHmac('sha256', SECRET).update(payload).digest('base64url')}`;
  };
  refusedWith('malformed', () => verifyToken(SECRET, signed([1, 2]), NOW));
  refusedWith('malformed', () =>
    verifyToken(SECRET, signed({ v: 2, l: 'a', h: 'b', e: NOW + 1 }), NOW),
  );
  refusedWith('malformed', () =>
    verifyToken(SECRET, signed({ v: 1, l: '../x', h: 'b', e: NOW + 1 }), NOW),
  );
  refusedWith('malformed', () =>
    verifyToken(SECRET, signed({ v: 1, l: 'a', h: 'b', e: 'soon' }), NOW),
  );
});

test('issuing refuses bad ids, a short secret and a non-integer expiry', T, () => {
  assert.throws(() => issueToken(SECRET, { ...claims, hostId: 'a/b' }), InvalidIdError);
  assert.throws(
    () => issueToken(SECRET, { ...claims, livestreamId: 'x'.repeat(65) }),
    InvalidIdError,
  );
  assert.throws(() => issueToken('short', claims), RangeError);
  assert.throws(() => issueToken(SECRET, { ...claims, expiresAt: 1.5 }), RangeError);
});
