import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { after, test } from 'node:test';
import { ModerationError } from '../../../src/moderation/review-port.ts';
import { ModerationClient } from '../../../src/moderation/service/moderation-client.ts';
import { freeTcpPort } from '../../../src/support/free-port.ts';
import { tempDir } from '../../support/tapedeck.ts';
import { draft, startFixture, TOKENS, type Fixture } from './fixture.ts';
import { moderationPortContract } from './moderation-port.contract.ts';

const dirs: string[] = [];
const fixtures: Fixture[] = [];
const servers: Server[] = [];
after(async () => {
  for (const s of servers) await new Promise((r) => s.close(r)).catch(() => undefined);
  for (const f of fixtures) await f.close().catch(() => undefined);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function fixture(): Promise<Fixture> {
  const dir = await tempDir('moderation-port');
  dirs.push(dir);
  const fx = await startFixture(dir);
  fixtures.push(fx);
  return fx;
}

moderationPortContract('HTTP client + built-in service', async () => {
  const fx = await fixture();
  return {
    port: new ModerationClient({ url: fx.service.url, token: TOKENS.reviewers.alice }),
    actor: 'alice',
    close: () => fx.close(),
  };
});

test(
  'a client whose service is not listening fails fast with a retryable, clear ModerationError',
  { timeout: 30_000 },
  async () => {
    const port = await freeTcpPort();
    const client = new ModerationClient({
      url: `http://127.0.0.1:${port}`,
      token: 'any-token-0123456789',
      retries: 2,
      backoffMs: 20,
    });
    const started = Date.now();
    await assert.rejects(client.createReview(draft(), randomUUID()), (err: Error) => {
      assert.ok(err instanceof ModerationError, String(err));
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(err.message, /after 3 tries/);
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
    await assert.rejects(client.listReviews(), (err: ModerationError) => err.retryable);
  },
);

/** A proxy in front of the service that fails the first `failures` requests in a chosen way. */
async function flakyProxy(
  target: string,
  failures: number,
  how: 'drop-answer' | '503',
): Promise<{ url: string; seen: IncomingMessage['headers'][] }> {
  const seen: IncomingMessage['headers'][] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    const failing = seen.length <= failures;
    if (failing && how === '503') {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/problem+json' });
      res.end('{"status":503,"detail":"busy"}');
      return;
    }
    const upstream = request(
      `${target}${req.url}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        // The service did the work; the answer is lost on the way back.
        if (failing) {
          answer.resume();
          answer.on('end', () => res.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, seen };
}

test(
  'retries send the same Idempotency-Key, so a lost answer never makes a second review',
  { timeout: 30_000 },
  async () => {
    const fx = await fixture();
    const proxy = await flakyProxy(fx.service.url, 2, 'drop-answer');
    const client = new ModerationClient({
      url: proxy.url,
      token: TOKENS.services.escalation,
      retries: 3,
      backoffMs: 10,
    });
    const key = randomUUID();
    const r = await client.createReview(draft(0, { livestreamId: 'ls-retry' }), key);
    assert.equal(proxy.seen.length, 3);
    assert.deepEqual(
      proxy.seen.map((h) => h['idempotency-key']),
      [key, key, key],
    );
    const direct = new ModerationClient({ url: fx.service.url, token: TOKENS.reviewers.alice });
    const listed = await direct.listReviews({ livestreamId: 'ls-retry' });
    assert.deepEqual(
      listed.map((x) => x.id),
      [r.id],
    );
    assert.equal((await direct.audit(r.id)).length, 1);
  },
);

test(
  'a 5xx is retried and then succeeds; retries run out as a retryable error',
  { timeout: 30_000 },
  async () => {
    const fx = await fixture();
    const proxy = await flakyProxy(fx.service.url, 1, '503');
    const client = new ModerationClient({
      url: proxy.url,
      token: TOKENS.reviewers.alice,
      retries: 1,
      backoffMs: 10,
    });
    assert.deepEqual(await client.listReviews({ livestreamId: 'none' }), []);

    const always = await flakyProxy(fx.service.url, Infinity, '503');
    const giveUp = new ModerationClient({
      url: always.url,
      token: TOKENS.reviewers.alice,
      retries: 2,
      backoffMs: 10,
    });
    await assert.rejects(giveUp.getReview('x'), (err: ModerationError) => {
      assert.equal(err.retryable, true);
      assert.match(err.message, /503: busy/);
      return true;
    });
    assert.equal(always.seen.length, 3);

    const wrongToken = new ModerationClient({ url: fx.service.url, token: 'not-a-token-at-all' });
    await assert.rejects(wrongToken.listReviews(), (err: ModerationError) => {
      assert.equal(err.retryable, false);
      assert.match(err.message, /refused the token/);
      return true;
    });
  },
);

test('a slow service times out per try and counts as retryable', { timeout: 30_000 }, async () => {
  const server = createServer(() => undefined);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const client = new ModerationClient({
    url: `http://127.0.0.1:${port}`,
    token: 'any-token-0123456789',
    retries: 1,
    timeoutMs: 200,
    backoffMs: 10,
  });
  await assert.rejects(client.getReview('x'), (err: ModerationError) => {
    assert.equal(err.retryable, true);
    assert.match(err.message, /no answer in time/);
    return true;
  });
  server.closeAllConnections();
});
