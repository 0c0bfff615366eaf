import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Authenticator,
  parseTokenList,
  tokenProblems,
} from '../../../src/moderation/service/auth.ts';
import { parseRange } from '../../../src/moderation/service/clip-cache.ts';

test(
  'Range headers: single ranges, suffixes, open ends; the rest is the whole clip or 416',
  { timeout: 5_000 },
  () => {
    assert.equal(parseRange(undefined, 100), null);
    assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=90-500', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 });
    assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-1,5-6', 100), null);
    assert.equal(parseRange('items=0-1', 100), null);
    assert.equal(parseRange('bytes=9-3', 100), null);
  },
);

test('token lists and their problems', { timeout: 5_000 }, () => {
  assert.deepEqual(
    parseTokenList('alice=aaaaaaaaaaaaaaaa, service:escalation=bbbbbbbbbbbbbbbb\n# c\n'),
    {
      reviewers: { alice: 'aaaaaaaaaaaaaaaa' },
      services: { escalation: 'bbbbbbbbbbbbbbbb' },
    },
  );
  assert.throws(() => parseTokenList('alice'), /not name=token/);
  assert.throws(
    () => parseTokenList('a=xxxxxxxxxxxxxxxxxx,service:a=yyyyyyyyyyyyyyyyyy'),
    /given twice/,
  );
  assert.deepEqual(tokenProblems({}), ['no tokens are configured: nobody could use the service']);
  const problems = tokenProblems({
    reviewers: { 'bad name': 'short', bob: 'same-token-0123456789' },
    services: { svc: 'same-token-0123456789' },
  });
  assert.equal(problems.length, 3, problems.join('\n'));
});

test(
  'tokens are told apart by name; only reviewers get sessions, and sessions expire',
  { timeout: 5_000 },
  () => {
    let now = 1_000;
    const auth = new Authenticator(
      { reviewers: { alice: 'alice-token-0123456789' }, services: { esc: 'esc-token-0123456789' } },
      { sessionTtlMs: 1_000, now: () => now },
    );
    assert.deepEqual(auth.byToken('esc-token-0123456789'), { name: 'esc', kind: 'service' });
    assert.equal(auth.byToken('esc-token-012345678'), null);
    assert.equal(auth.byToken(undefined), null);
    assert.equal(auth.login('esc', 'esc-token-0123456789'), null);
    assert.equal(auth.login('bob', 'alice-token-0123456789'), null);
    const s = auth.login('alice', 'alice-token-0123456789');
    assert.ok(s);
    assert.deepEqual(auth.bySession(s.id), { name: 'alice', kind: 'reviewer' });
    now += 1_000;
    assert.equal(auth.bySession(s.id), null);
  },
);
