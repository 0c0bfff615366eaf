import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { AuditEntry, Review } from '../../../src/domain/review.ts';
import { MODERATION_OPENAPI } from '../../../src/moderation/service/moderation-openapi.ts';
import { moderationRoutes } from '../../../src/moderation/service/moderation-service.ts';
import { tempDir } from '../../support/tapedeck.ts';
import { bearer, draft, startFixture, storeClip, TOKENS, type Fixture } from './fixture.ts';

let dir: string;
let fx: Fixture;
let clipFile: string;
const CLIP_KEY = 'ls1/reviews/host-h1/clip.mp4';

before(async () => {
  dir = await tempDir('moderation-api');
  fx = await startFixture(dir);
  clipFile = await storeClip(dir, fx.store, CLIP_KEY);
});
after(async () => {
  await fx?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ESCALATION = bearer(TOKENS.services.escalation);
const ALICE = bearer(TOKENS.reviewers.alice);
let keys = 0;
const newKey = () => `test-key-${++keys}-${Date.now()}`;

interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

async function call<T = unknown>(
  method: string,
  path: string,
  o: { headers?: Record<string, string>; body?: unknown; raw?: string } = {},
): Promise<Reply<T>> {
  const res = await fetch(`${fx.service.url}${path}`, {
    method,
    headers: {
      ...(o.body !== undefined || o.raw !== undefined
        ? { 'Content-Type': 'application/json' }
        : {}),
      ...o.headers,
    },
    ...(o.raw !== undefined ? { body: o.raw } : {}),
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, headers: res.headers, body: body as T };
}

async function create(d = draft(), key = newKey()): Promise<Review> {
  const r = await call<Review>('POST', '/v1/reviews', {
    headers: { ...ESCALATION, 'Idempotency-Key': key },
    body: d,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

function assertProblem(r: Reply, status: number, includes?: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
  const p = r.body as { status: number; detail: string };
  assert.equal(p.status, status);
  if (includes !== undefined) assert.ok(p.detail.includes(includes), p.detail);
}

test(
  'a review is created once per idempotency key; the same key with another body is refused',
  { timeout: 30_000 },
  async () => {
    const key = newKey();
    const d = draft(100, { livestreamId: 'ls-idem' });
    const first = await call<Review>('POST', '/v1/reviews', {
      headers: { ...ESCALATION, 'Idempotency-Key': key },
      body: d,
    });
    assert.equal(first.status, 201);
    assert.equal(first.body.status, 'open');
    assert.equal(first.body.decision, null);
    assert.deepEqual(first.body.range, d.range);
    assert.equal(first.headers.get('location'), `/v1/reviews/${first.body.id}`);

    const again = await call<Review>('POST', '/v1/reviews', {
      headers: { ...ESCALATION, 'Idempotency-Key': key },
      body: { ...d, unknownField: 'ignored' },
    });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    assert.deepEqual(again.body, first.body);

    const other = await call('POST', '/v1/reviews', {
      headers: { ...ESCALATION, 'Idempotency-Key': key },
      body: { ...d, lowestScore: 3 },
    });
    assertProblem(other, 422, 'different request');

    const listed = await call<{ reviews: Review[] }>('GET', '/v1/reviews?livestreamId=ls-idem', {
      headers: ALICE,
    });
    assert.equal(listed.body.reviews.length, 1);
    const audit = await call<{ entries: AuditEntry[] }>(
      'GET',
      `/v1/audit?reviewId=${first.body.id}`,
      { headers: ALICE },
    );
    assert.deepEqual(
      audit.body.entries.map((e) => [e.action, e.actor]),
      [['created', 'escalation']],
    );
  },
);

test(
  'reviews are listed oldest first and filtered; one is read by id; an unknown id is a 404 problem',
  { timeout: 30_000 },
  async () => {
    const a = await create(draft(0, { livestreamId: 'ls-list', track: 'host-a' }));
    const b = await create(draft(0, { livestreamId: 'ls-list', track: 'host-b' }));
    const c = await create(draft(30, { livestreamId: 'ls-list', track: 'host-a' }));
    const all = await call<{ reviews: Review[] }>('GET', '/v1/reviews?livestreamId=ls-list', {
      headers: ALICE,
    });
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.body.reviews.map((r) => r.id),
      [a.id, b.id, c.id],
    );
    const trackA = await call<{ reviews: Review[] }>(
      'GET',
      '/v1/reviews?livestreamId=ls-list&track=host-a&status=open',
      { headers: ALICE },
    );
    assert.deepEqual(
      trackA.body.reviews.map((r) => r.id),
      [a.id, c.id],
    );
    const none = await call<{ reviews: Review[] }>(
      'GET',
      '/v1/reviews?livestreamId=ls-list&status=violation',
      { headers: ALICE },
    );
    assert.deepEqual(none.body.reviews, []);
    assertProblem(
      await call('GET', '/v1/reviews?status=maybe', { headers: ALICE }),
      400,
      'status must be one of',
    );

    const got = await call<Review>('GET', `/v1/reviews/${b.id}`, { headers: ALICE });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, b);
    assertProblem(
      await call('GET', '/v1/reviews/00000000-0000-0000-0000-000000000000', { headers: ALICE }),
      404,
      'does not exist',
    );
  },
);

test(
  'an open review is extended (union of ranges, flags once); a missing one is 404, a decided one 409',
  { timeout: 30_000 },
  async () => {
    const r = await create(draft(0, { livestreamId: 'ls-ext' }));
    const key = newKey();
    const ext = await call<Review>('POST', `/v1/reviews/${r.id}/extend`, {
      headers: { ...ESCALATION, 'Idempotency-Key': key },
      body: draft(10, { livestreamId: 'ls-ext', lowestScore: 5 }),
    });
    assert.equal(ext.status, 200, JSON.stringify(ext.body));
    assert.equal(ext.body.id, r.id);
    assert.deepEqual(ext.body.range, { startMs: r.range.startMs, endMs: r.range.startMs + 25_000 });
    assert.equal(ext.body.flagged.length, 2);
    assert.equal(ext.body.lowestScore, 5);
    assert.equal(ext.body.clipKey, 'ls1/reviews/host-h1/10.mp4');

    // A retry of the same extension changes nothing and is not audited twice.
    const again = await call<Review>('POST', `/v1/reviews/${r.id}/extend`, {
      headers: { ...ESCALATION, 'Idempotency-Key': key },
      body: draft(10, { livestreamId: 'ls-ext', lowestScore: 5 }),
    });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, ext.body);

    assertProblem(
      await call('POST', `/v1/reviews/${r.id}/extend`, {
        headers: { ...ESCALATION, 'Idempotency-Key': newKey() },
        body: draft(10, { livestreamId: 'another-stream' }),
      }),
      422,
      'the draft is for another-stream',
    );
    assertProblem(
      await call('POST', '/v1/reviews/no-such-review/extend', {
        headers: { ...ESCALATION, 'Idempotency-Key': newKey() },
        body: draft(10),
      }),
      404,
    );
    assertProblem(
      await call('POST', `/v1/reviews/${r.id}/extend`, { headers: ESCALATION, body: draft(10) }),
      400,
      'Idempotency-Key',
    );

    const decided = await call('POST', `/v1/reviews/${r.id}/decision`, {
      headers: ALICE,
      body: { decision: 'approve', note: '' },
    });
    assert.equal(decided.status, 200);
    assertProblem(
      await call('POST', `/v1/reviews/${r.id}/extend`, {
        headers: { ...ESCALATION, 'Idempotency-Key': newKey() },
        body: draft(20, { livestreamId: 'ls-ext' }),
      }),
      409,
      'already decided',
    );
    const audit = await call<{ entries: AuditEntry[] }>('GET', `/v1/audit?reviewId=${r.id}`, {
      headers: ALICE,
    });
    assert.deepEqual(
      audit.body.entries.map((e) => e.action),
      ['created', 'extended', 'decided'],
    );
  },
);

test(
  'a decision records the reviewer; deciding twice is 409, a missing review 404, bad input 400 with every problem',
  { timeout: 30_000 },
  async () => {
    const r = await create(draft(0, { livestreamId: 'ls-decide' }));
    const bad = await call('POST', `/v1/reviews/${r.id}/decision`, {
      headers: ALICE,
      body: { decision: 'ban', note: 7 },
    });
    assertProblem(bad, 400);
    assert.deepEqual((bad.body as { problems: string[] }).problems, [
      'decision must be one of approve, violation',
      'note must be a string of at most 2000 characters',
    ]);

    const ok = await call<Review>('POST', `/v1/reviews/${r.id}/decision`, {
      headers: ALICE,
      body: { decision: 'violation', note: 'black screen <b>on purpose</b>' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 'violation');
    assert.equal(ok.body.decision?.reviewer, 'alice');
    assert.equal(ok.body.decision?.note, 'black screen <b>on purpose</b>');

    const twice = await call('POST', `/v1/reviews/${r.id}/decision`, {
      headers: bearer(TOKENS.reviewers.bob),
      body: { decision: 'approve' },
    });
    assertProblem(twice, 409, 'already decided');
    const still = await call<Review>('GET', `/v1/reviews/${r.id}`, { headers: ALICE });
    assert.equal(still.body.decision?.reviewer, 'alice');

    assertProblem(
      await call('POST', '/v1/reviews/does-not-exist/decision', {
        headers: ALICE,
        body: { decision: 'approve', note: '' },
      }),
      404,
      'does-not-exist',
    );
  },
);

test('bad requests get clear problems and never stop the server', { timeout: 30_000 }, async () => {
  const headers = { ...ESCALATION, 'Idempotency-Key': newKey() };
  const bad = await call('POST', '/v1/reviews', {
    headers,
    body: { livestreamId: '', variant: 'avi', range: { startMs: 5, endMs: 1 }, flagged: [] },
  });
  assertProblem(bad, 400, 'the review draft is not valid');
  const problems = (bad.body as { problems: string[] }).problems;
  for (const expected of [
    'livestreamId must be a non-empty string of at most 512 characters',
    'track must be a non-empty string of at most 512 characters',
    'variant must be mp4 or mp3',
    'range must end after it starts',
    'flagged must be a non-empty array of ranges',
    'findings must be an array',
    'lowestScore must be an integer from 0 to 100',
  ])
    assert.ok(problems.includes(expected), `${expected} in ${problems.join(' | ')}`);

  assertProblem(
    await call('POST', '/v1/reviews', { headers, raw: '{"livestreamId": ' }),
    400,
    'not valid JSON',
  );
  assertProblem(
    await call('POST', '/v1/reviews', { headers, raw: 'null' }),
    400,
    'must be a JSON object',
  );
  assertProblem(
    await call('POST', '/v1/reviews', {
      headers,
      raw: JSON.stringify({ ...draft(), padding: 'x'.repeat(300 * 1024) }),
    }),
    413,
    'larger than 256 KiB',
  );
  const textPlain = await fetch(`${fx.service.url}/v1/reviews`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'text/plain' },
    body: JSON.stringify(draft()),
  });
  assert.equal(textPlain.status, 415);
  await textPlain.body?.cancel();
  assertProblem(await call('GET', '/v1/nothing-here', { headers: ALICE }), 404, 'openapi.json');
  assertProblem(await call('GET', '/v1/reviews/a/b/c', { headers: ALICE }), 404);
  const wrongMethod = await call('DELETE', '/v1/reviews', { headers: ALICE });
  assertProblem(wrongMethod, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'POST, GET');
  assertProblem(await call('PUT', '/v1/reviews/x/decision', { headers: ALICE }), 405);
  assertProblem(await call('GET', '/v1/reviews/bad%20id', { headers: ALICE }), 404);

  const health = await call<{ ok: boolean }>('GET', '/healthz');
  assert.deepEqual(health.body, { ok: true });
});

test(
  'every /v1 route needs a token or a page session; only reviewers log in',
  { timeout: 30_000 },
  async () => {
    const none = await call('GET', '/v1/reviews');
    assertProblem(none, 401, 'credentials needed');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assertProblem(
      await call('GET', '/v1/reviews', { headers: bearer('wrong-token-0123456789') }),
      401,
    );
    assertProblem(
      await call('POST', '/v1/reviews', { headers: { 'Idempotency-Key': 'k' }, body: draft() }),
      401,
    );

    assertProblem(
      await call('POST', '/v1/login', { body: { name: 'bob', token: TOKENS.reviewers.alice } }),
      401,
    );
    assertProblem(
      await call('POST', '/v1/login', {
        body: { name: 'escalation', token: TOKENS.services.escalation },
      }),
      401,
    );
    assertProblem(await call('POST', '/v1/login', { body: { name: 'alice' } }), 400);

    const login = await call<{ name: string }>('POST', '/v1/login', {
      body: { name: 'alice', token: TOKENS.reviewers.alice },
    });
    assert.equal(login.status, 200);
    assert.equal(login.body.name, 'alice');
    const setCookie = login.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const session = setCookie.split(';')[0]!;
    const me = await call<{ name: string; kind: string }>('GET', '/v1/me', {
      headers: { Cookie: session },
    });
    assert.deepEqual(me.body, { name: 'alice', kind: 'reviewer' });

    // The cookie works from the page's own origin, not from another site's.
    const r = await create(draft(0, { livestreamId: 'ls-cookie' }));
    const foreign = await call('POST', `/v1/reviews/${r.id}/decision`, {
      headers: { Cookie: session, Origin: 'http://evil.example' },
      body: { decision: 'approve' },
    });
    assertProblem(foreign, 403);
    const own = await call<Review>('POST', `/v1/reviews/${r.id}/decision`, {
      headers: { Cookie: session, Origin: fx.service.url },
      body: { decision: 'approve' },
    });
    assert.equal(own.status, 200);
    assert.equal(own.body.decision?.reviewer, 'alice');

    const out = await call('POST', '/v1/logout', { headers: { Cookie: session } });
    assert.equal(out.status, 204);
    assertProblem(await call('GET', '/v1/me', { headers: { Cookie: session } }), 401);
  },
);

test('the audit log has every change in order with its actor', { timeout: 30_000 }, async () => {
  const r = await create(draft(0, { livestreamId: 'ls-audit' }));
  await call('POST', `/v1/reviews/${r.id}/extend`, {
    headers: { ...ESCALATION, 'Idempotency-Key': newKey() },
    body: draft(15, { livestreamId: 'ls-audit' }),
  });
  await call('POST', `/v1/reviews/${r.id}/decision`, {
    headers: bearer(TOKENS.reviewers.bob),
    body: { decision: 'violation', note: 'frozen for 5 s' },
  });
  const mine = await call<{ entries: AuditEntry[] }>('GET', `/v1/audit?reviewId=${r.id}`, {
    headers: ALICE,
  });
  const e = mine.body.entries;
  assert.deepEqual(
    e.map((x) => [x.action, x.actor, x.reviewId]),
    [
      ['created', 'escalation', r.id],
      ['extended', 'escalation', r.id],
      ['decided', 'bob', r.id],
    ],
  );
  assert.ok(e[0]!.seq < e[1]!.seq && e[1]!.seq < e[2]!.seq);
  assert.deepEqual(e[2]!.detail, { decision: 'violation', note: 'frozen for 5 s' });
  assert.ok(!Number.isNaN(Date.parse(e[2]!.at)));

  const all = await call<{ entries: AuditEntry[] }>('GET', '/v1/audit', { headers: ALICE });
  const seqs = all.body.entries.map((x) => x.seq);
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
  );
  assert.ok(all.body.entries.length > e.length);
});

test('the clip is served from the store, whole or by byte range', { timeout: 60_000 }, async () => {
  const want = await readFile(clipFile);
  const r = await create(draft(0, { livestreamId: 'ls-clip', clipKey: CLIP_KEY }));
  const whole = await fetch(`${fx.service.url}/v1/reviews/${r.id}/clip`, { headers: ALICE });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-type'), 'video/mp4');
  assert.equal(whole.headers.get('accept-ranges'), 'bytes');
  assert.ok(Buffer.from(await whole.arrayBuffer()).equals(want));

  const part = await fetch(`${fx.service.url}/v1/reviews/${r.id}/clip`, {
    headers: { ...ALICE, Range: 'bytes=100-1099' },
  });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-1099/${want.length}`);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(want.subarray(100, 1100)));

  const tail = await fetch(`${fx.service.url}/v1/reviews/${r.id}/clip`, {
    headers: { ...ALICE, Range: 'bytes=-500' },
  });
  assert.equal(tail.status, 206);
  assert.ok(Buffer.from(await tail.arrayBuffer()).equals(want.subarray(want.length - 500)));

  const open = await fetch(`${fx.service.url}/v1/reviews/${r.id}/clip`, {
    headers: { ...ALICE, Range: `bytes=${want.length - 10}-` },
  });
  assert.equal(open.status, 206);
  assert.equal((await open.arrayBuffer()).byteLength, 10);

  const beyond = await fetch(`${fx.service.url}/v1/reviews/${r.id}/clip`, {
    headers: { ...ALICE, Range: `bytes=${want.length}-` },
  });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers.get('content-range'), `bytes */${want.length}`);
  await beyond.body?.cancel();

  const noAuth = await fetch(`${fx.service.url}/v1/reviews/${r.id}/clip`);
  assert.equal(noAuth.status, 401);
  await noAuth.body?.cancel();

  const missing = await create(
    draft(0, { livestreamId: 'ls-clip', clipKey: 'ls1/reviews/gone.mp4' }),
  );
  assertProblem(
    await call('GET', `/v1/reviews/${missing.id}/clip`, { headers: ALICE }),
    404,
    'not in the store',
  );
});

test(
  'every route the server answers is in the OpenAPI document, and the page is served',
  { timeout: 30_000 },
  async () => {
    const doc = await call<typeof MODERATION_OPENAPI>('GET', '/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    const paths = doc.body.paths as Record<string, Record<string, unknown>>;
    const routes = moderationRoutes();
    assert.ok(routes.length >= 14);
    for (const { method, path } of routes) {
      assert.ok(paths[path]?.[method.toLowerCase()], `${method} ${path} is not documented`);
      // The route exists on the live server: neither 404 (no such path) nor 405 (wrong method).
      const concrete = path.replace('{id}', 'some-id');
      const res = await fetch(`${fx.service.url}${concrete}`, {
        method,
        headers: { 'Content-Type': 'application/json' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      await res.body?.cancel();
      assert.ok(![404, 405].includes(res.status), `${method} ${concrete}: ${res.status}`);
    }
    for (const [path, ops] of Object.entries(paths))
      for (const method of Object.keys(ops))
        assert.ok(
          routes.some((r) => r.path === path && r.method.toLowerCase() === method),
          `${method} ${path} is documented but not served`,
        );

    const page = await fetch(`${fx.service.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await page.text(), /id="login-form"/);
  },
);

test(
  'a restart with the same data folder keeps reviews, keys and the audit log',
  { timeout: 30_000 },
  async () => {
    const key = newKey();
    const r = await create(draft(0, { livestreamId: 'ls-restart' }), key);
    await call('POST', `/v1/reviews/${r.id}/decision`, {
      headers: ALICE,
      body: { decision: 'violation', note: 'kept' },
    });
    const before = await call<{ entries: AuditEntry[] }>('GET', '/v1/audit', { headers: ALICE });
    await fx.restart();

    const got = await call<Review>('GET', `/v1/reviews/${r.id}`, { headers: ALICE });
    assert.equal(got.status, 200);
    assert.equal(got.body.status, 'violation');
    assert.equal(got.body.decision?.note, 'kept');
    const afterRestart = await call<{ entries: AuditEntry[] }>('GET', '/v1/audit', {
      headers: ALICE,
    });
    assert.deepEqual(afterRestart.body.entries, before.body.entries);

    const replay = await call<Review>('POST', '/v1/reviews', {
      headers: { ...ESCALATION, 'Idempotency-Key': key },
      body: draft(0, { livestreamId: 'ls-restart' }),
    });
    assert.equal(replay.status, 200);
    assert.equal(replay.body.id, r.id);
  },
);
