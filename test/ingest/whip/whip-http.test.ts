import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueToken } from '../../../src/domain/whip-token.ts';
import { AtCapacityError, type SessionBackend } from '../../../src/ingest/whip/backend.ts';
import { startWhipServer, type WhipServer } from '../../../src/ingest/whip/server.ts';
import {
  ANSWER_SDP,
  CHROMIUM_OFFER,
  GSTREAMER_OFFER,
  VP9_AV1_ONLY_OFFER,
} from '../../domain/sdp-fixtures.ts';
import { rawExchange, request, type Reply } from './whip-client.ts';

const T = { timeout: 10_000 };
const SECRET = 'whip-test-secret-0123456789';
const LIVE = 'show-1';

type CreateRequest = Parameters<SessionBackend['createSession']>[0];

/** Remembers sessions and answers with a canned SDP: enough to exercise the HTTP layer. */
class RecordingBackend implements SessionBackend {
  readonly livestreams = new Set([LIVE, 'show-2']);
  readonly sessions = new Map<string, { livestreamId: string; hostId: string }>();
  readonly created: CreateRequest[] = [];
  nextFailure: Error | undefined;
  createDelayMs = 0;
  private n = 0;

  hasLivestream(id: string) {
    return this.livestreams.has(id);
  }
  isPublishing(livestreamId: string, hostId: string) {
    return [...this.sessions.values()].some(
      (s) => s.livestreamId === livestreamId && s.hostId === hostId,
    );
  }
  async createSession(req: CreateRequest) {
    if (this.createDelayMs) await new Promise((r) => setTimeout(r, this.createDelayMs));
    const failure = this.nextFailure;
    this.nextFailure = undefined;
    if (failure) throw failure;
    this.created.push(req);
    const sessionId = `sess-${++this.n}`;
    this.sessions.set(sessionId, { livestreamId: req.livestreamId, hostId: req.hostId });
    return { sessionId, answerSdp: ANSWER_SDP };
  }
  async deleteSession(id: string) {
    this.sessions.delete(id);
  }
  sessionOwner(id: string) {
    return this.sessions.get(id) ?? null;
  }
}

const backend = new RecordingBackend();
const errors: unknown[] = [];
let server: WhipServer;
let port: number;
let probes = 0;

const token = (hostId: string, livestreamId = LIVE, expiresAt = Date.now() + 60_000) =>
  issueToken(SECRET, { livestreamId, hostId, expiresAt });
const auth = (hostId: string, livestreamId = LIVE) => ({
  Authorization: `Bearer ${token(hostId, livestreamId)}`,
});
const sdpHeaders = (hostId: string, livestreamId = LIVE) => ({
  ...auth(hostId, livestreamId),
  'Content-Type': 'application/sdp',
});

function publish(hostId: string, offer = CHROMIUM_OFFER, livestreamId = LIVE): Promise<Reply> {
  return request(
    port,
    'POST',
    `/whip/${livestreamId}/${hostId}`,
    sdpHeaders(hostId, livestreamId),
    offer,
  );
}

function problemDetail(reply: Reply): string {
  assert.equal(reply.headers['content-type'], 'application/problem+json');
  const body = JSON.parse(reply.body) as { status: number; detail: string };
  assert.equal(body.status, reply.status);
  assert.doesNotMatch(reply.body, /at \S+ \(|\.ts:\d+/, 'no stack trace leaks');
  return body.detail;
}

/** After every hostile request: a good publisher still gets in (and leaves again). */
async function stillServes(): Promise<void> {
  const host = `probe-${++probes}`;
  const reply = await publish(host);
  assert.equal(
    reply.status,
    201,
    `server still publishes after the hostile request: ${reply.body}`,
  );
  const gone = await request(port, 'DELETE', reply.headers.location ?? '', auth(host));
  assert.equal(gone.status, 200);
}

async function expectStatus(reply: Promise<Reply>, status: number, detail?: RegExp) {
  const r = await reply;
  assert.equal(r.status, status, `body: ${r.body}`);
  if (detail) assert.match(problemDetail(r), detail);
  await stillServes();
  return r;
}

before(async () => {
  server = await startWhipServer({
    backend,
    tokenSecret: SECRET,
    port: 0,
    requestTimeoutMs: 1_500,
    headersTimeoutMs: 1_000,
    onError: (err) => errors.push(err),
  });
  port = server.port;
});

after(async () => {
  await server.close();
});

describe('happy path', () => {
  test('POST answers 201 with Location, ETag, the answer and CORS headers', T, async () => {
    const r = await publish('host-a');
    assert.equal(r.status, 201, r.body);
    assert.match(r.headers.location ?? '', /^\/whip\/show-1\/host-a\/sessions\/sess-\d+$/);
    assert.equal(r.headers['content-type'], 'application/sdp');
    assert.match(r.headers.etag ?? '', /^"[A-Za-z0-9_-]+"$/);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.match(r.headers['access-control-expose-headers'] ?? '', /Location, ETag, Link/);
    assert.equal(r.body, ANSWER_SDP);
    const seen = backend.created.at(-1);
    assert.equal(seen?.hostId, 'host-a');
    assert.equal(seen?.offerSdp, CHROMIUM_OFFER);
    assert.deepEqual(
      seen?.plan.sections.map((s) => [s.codec, s.pt]),
      [
        ['OPUS', 111],
        ['H264', 106],
      ],
    );
    assert.ok(backend.isPublishing(LIVE, 'host-a'));

    const del = await request(port, 'DELETE', r.headers.location ?? '', auth('host-a'));
    assert.equal(del.status, 200);
    assert.equal(backend.isPublishing(LIVE, 'host-a'), false);
    const again = await request(port, 'DELETE', r.headers.location ?? '', auth('host-a'));
    assert.equal(again.status, 404);
  });

  test('a GStreamer offer with a bundle-only second m-line is accepted', T, async () => {
    const r = await publish('gst-host', GSTREAMER_OFFER);
    assert.equal(r.status, 201, r.body);
    assert.deepEqual(
      backend.created.at(-1)?.plan.sections.map((s) => [s.mid, s.codec]),
      [
        ['video0', 'H264'],
        ['audio1', 'OPUS'],
      ],
    );
    await request(port, 'DELETE', r.headers.location ?? '', auth('gst-host'));
  });

  test('OPTIONS preflight on the endpoint and on a session answers 204 with CORS', T, async () => {
    const pre = await request(port, 'OPTIONS', `/whip/${LIVE}/host-a`, {
      Origin: 'https://studio.example',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type',
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-methods'], 'OPTIONS, POST');
    assert.equal(
      pre.headers['access-control-allow-headers'],
      'Authorization, Content-Type, If-Match',
    );
    assert.match(pre.headers['access-control-expose-headers'] ?? '', /Location/);
    assert.equal(pre.headers['accept-post'], 'application/sdp');
    assert.equal(pre.body, '');
    const sess = await request(port, 'OPTIONS', `/whip/${LIVE}/host-a/sessions/sess-1`);
    assert.equal(sess.status, 204);
    assert.equal(sess.headers['access-control-allow-methods'], 'OPTIONS, DELETE');
  });

  test('the allowed origin is configurable', T, async () => {
    const other = await startWhipServer({
      backend,
      tokenSecret: SECRET,
      allowOrigin: 'https://studio.example',
    });
    try {
      assert.match(other.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const pre = await request(other.port, 'OPTIONS', `/whip/${LIVE}/host-a`);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://studio.example');
    } finally {
      await other.close();
    }
  });
});

describe('malformed and hostile requests', () => {
  const path = `/whip/${LIVE}/host-x`;
  const post = (headers: Record<string, string>, body?: string | Buffer, p = path) =>
    request(port, 'POST', p, headers, body);

  test('SDP that does not start with v=0 is 400', T, async () => {
    await expectStatus(post(sdpHeaders('host-x'), 'hello, world'), 400, /v=0/);
  });

  test('SDP without an m= line is 400', T, async () => {
    await expectStatus(post(sdpHeaders('host-x'), 'v=0\r\ns=-\r\nt=0 0\r\n'), 400, /no m= line/);
  });

  test('SDP with a line that is not x=value is 400', T, async () => {
    const broken = CHROMIUM_OFFER.replace('a=mid:1', 'mid 1');
    await expectStatus(post(sdpHeaders('host-x'), broken), 400, /not of the form/);
  });

  test('an empty body is 400', T, async () => {
    await expectStatus(post(sdpHeaders('host-x'), ''), 400, /malformed SDP/);
  });

  test('binary garbage is 400', T, async () => {
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    await expectStatus(post(sdpHeaders('host-x'), junk), 400, /malformed SDP/);
  });

  test('an rtpmap for a payload type not on the m= line is 400', T, async () => {
    const broken = GSTREAMER_OFFER.replace('a=rtpmap:96 H264/90000', 'a=rtpmap:95 H264/90000');
    await expectStatus(post(sdpHeaders('host-x'), broken), 400, /not listed/);
  });

  test('a body over 64 KiB is 413 and is not read to the end', T, async () => {
    const huge = CHROMIUM_OFFER + 'a=x-pad:' + 'x'.repeat(200 * 1024) + '\r\n';
    await expectStatus(post(sdpHeaders('host-x'), huge), 413, /over 65536 bytes/);
  });

  test('a declared Content-Length over the limit is 413 before any byte is read', T, async () => {
    const res = await rawExchange(port, [
      `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('host-x')}\r\n` +
        'Content-Type: application/sdp\r\nContent-Length: 1000000000\r\n\r\nv=0\r\n',
    ]);
    assert.match(res.text, /^HTTP\/1\.1 413 /);
    await stillServes();
  });

  test('a wrong content type is 415', T, async () => {
    const r = await expectStatus(
      post({ ...auth('host-x'), 'Content-Type': 'application/json' }, '{"sdp":"v=0"}'),
      415,
      /application\/sdp/,
    );
    assert.equal(r.headers['accept-post'], 'application/sdp');
  });

  test('a missing content type is 415', T, async () => {
    await expectStatus(post(auth('host-x'), CHROMIUM_OFFER), 415);
  });

  test('a missing token is 401 with WWW-Authenticate', T, async () => {
    const r = await expectStatus(
      post({ 'Content-Type': 'application/sdp' }, CHROMIUM_OFFER),
      401,
      /Bearer token is required/,
    );
    assert.equal(r.headers['www-authenticate'], 'Bearer');
  });

  test('a garbage token is 401', T, async () => {
    const r = await expectStatus(
      post(
        { Authorization: 'Bearer not-a-token', 'Content-Type': 'application/sdp' },
        CHROMIUM_OFFER,
      ),
      401,
      /malformed token/,
    );
    assert.match(r.headers['www-authenticate'] ?? '', /^Bearer error="invalid_token"/);
  });

  test('a token signed with another secret is 401', T, async () => {
    const forged = issueToken('some-other-secret-987654321', {
      livestreamId: LIVE,
      hostId: 'host-x',
      expiresAt: Date.now() + 60_000,
    });
    await expectStatus(
      post(
        { Authorization: `Bearer ${forged}`, 'Content-Type': 'application/sdp' },
        CHROMIUM_OFFER,
      ),
      401,
      /signature/,
    );
  });

  test('an expired token is 401', T, async () => {
    const old = token('host-x', LIVE, Date.now() - 1_000);
    await expectStatus(
      post({ Authorization: `Bearer ${old}`, 'Content-Type': 'application/sdp' }, CHROMIUM_OFFER),
      401,
      /expired/,
    );
  });

  test('Basic credentials instead of a Bearer token are 401', T, async () => {
    await expectStatus(
      post(
        { Authorization: 'Basic dXNlcjpwYXNz', 'Content-Type': 'application/sdp' },
        CHROMIUM_OFFER,
      ),
      401,
    );
  });

  test('a token for another livestream is 403', T, async () => {
    await expectStatus(post(sdpHeaders('host-x', 'show-2'), CHROMIUM_OFFER), 403, /another/);
  });

  test('a token for another host is 403', T, async () => {
    await expectStatus(post(sdpHeaders('host-y'), CHROMIUM_OFFER), 403, /another/);
  });

  test('an unknown livestream is 404', T, async () => {
    await expectStatus(
      publish('host-x', CHROMIUM_OFFER, 'no-such-show'),
      404,
      /unknown livestream/,
    );
  });

  test('an offer with no codec we can record is 422 naming what was offered', T, async () => {
    await expectStatus(post(sdpHeaders('host-x'), VP9_AV1_ONLY_OFFER), 422, /VP9\/90000/);
  });

  test('a second publish by the same host is 409', T, async () => {
    const first = await publish('host-dup');
    assert.equal(first.status, 201);
    await expectStatus(publish('host-dup'), 409, /already publishing/);
    await request(port, 'DELETE', first.headers.location ?? '', auth('host-dup'));
  });

  test('two racing publishes by one host: one 201, one 409', T, async () => {
    backend.createDelayMs = 100;
    try {
      const replies = await Promise.all([publish('host-race'), publish('host-race')]);
      assert.deepEqual(replies.map((r) => r.status).sort(), [201, 409]);
      const ok = replies.find((r) => r.status === 201);
      await request(port, 'DELETE', ok?.headers.location ?? '', auth('host-race'));
    } finally {
      backend.createDelayMs = 0;
    }
    await stillServes();
  });

  test("DELETE with another host's token is 403 and the session lives on", T, async () => {
    const mine = await publish('host-owner');
    const loc = mine.headers.location ?? '';
    await expectStatus(request(port, 'DELETE', loc, auth('host-thief')), 403, /another/);
    const sid = loc.split('/').at(-1) ?? '';
    // The thief's own path with the owner's session id is refused too.
    await expectStatus(
      request(port, 'DELETE', `/whip/${LIVE}/host-thief/sessions/${sid}`, auth('host-thief')),
      403,
      /belongs to another host/,
    );
    assert.ok(backend.isPublishing(LIVE, 'host-owner'));
    assert.equal((await request(port, 'DELETE', loc, auth('host-owner'))).status, 200);
  });

  test('DELETE of an unknown session is 404', T, async () => {
    await expectStatus(
      request(port, 'DELETE', `/whip/${LIVE}/host-x/sessions/nope`, auth('host-x')),
      404,
      /unknown session/,
    );
  });

  test('DELETE without a token is 401', T, async () => {
    await expectStatus(request(port, 'DELETE', `/whip/${LIVE}/host-x/sessions/sess-1`), 401);
  });

  test('PATCH on a session is 405 with Allow (no trickle ICE, no ICE restart)', T, async () => {
    const r = await expectStatus(
      request(
        port,
        'PATCH',
        `/whip/${LIVE}/host-x/sessions/sess-1`,
        {
          ...auth('host-x'),
          'Content-Type': 'application/trickle-ice-sdpfrag',
        },
        'a=ice-ufrag:abcd\r\n',
      ),
      405,
      /not supported/,
    );
    assert.equal(r.headers.allow, 'OPTIONS, DELETE');
  });

  test('GET on the endpoint is 405 with Allow', T, async () => {
    const r = await expectStatus(request(port, 'GET', path, auth('host-x')), 405);
    assert.equal(r.headers.allow, 'OPTIONS, POST');
  });

  test('PUT on a session is 405', T, async () => {
    await expectStatus(
      request(port, 'PUT', `/whip/${LIVE}/host-x/sessions/sess-1`, auth('host-x')),
      405,
    );
  });

  test('".." in an id is 400', T, async () => {
    await expectStatus(
      post(sdpHeaders('host-x'), CHROMIUM_OFFER, `/whip/${LIVE}/..`),
      400,
      /invalid id/,
    );
    await expectStatus(post(sdpHeaders('host-x'), CHROMIUM_OFFER, `/whip/../${LIVE}/host-x`), 400);
  });

  test('an encoded slash or dot in an id is 400', T, async () => {
    await expectStatus(post(sdpHeaders('host-x'), CHROMIUM_OFFER, `/whip/${LIVE}/host%2Fx`), 400);
    await expectStatus(post(sdpHeaders('host-x'), CHROMIUM_OFFER, `/whip/${LIVE}/%2e%2e`), 400);
  });

  test('a 65-character id is 400, a 64-character one is not', T, async () => {
    await expectStatus(
      post(sdpHeaders('host-x'), CHROMIUM_OFFER, `/whip/${LIVE}/${'h'.repeat(65)}`),
      400,
    );
    const r = await publish('h'.repeat(64));
    assert.equal(r.status, 201);
    await request(port, 'DELETE', r.headers.location ?? '', auth('h'.repeat(64)));
  });

  test('paths outside the WHIP resources are 404', T, async () => {
    await expectStatus(request(port, 'POST', '/', sdpHeaders('host-x'), CHROMIUM_OFFER), 404);
    await expectStatus(
      request(port, 'POST', `/whip/${LIVE}/host-x/other/s1`, sdpHeaders('host-x')),
      404,
    );
  });

  test('an upload aborted mid-body leaves no session and the server up', T, async () => {
    const before = backend.created.length;
    const res = await rawExchange(
      port,
      [
        `POST /whip/${LIVE}/host-abort HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('host-abort')}\r\n` +
          `Content-Type: application/sdp\r\nContent-Length: ${CHROMIUM_OFFER.length}\r\n\r\n`,
        CHROMIUM_OFFER.slice(0, 500),
      ],
      { gapMs: 50, destroyAfterWrite: true },
    );
    assert.equal(res.text, '');
    await stillServes();
    assert.equal(backend.created.length, before + 1, 'only the probe created a session');
    assert.equal(backend.isPublishing(LIVE, 'host-abort'), false);
  });

  test('slowloris: headers trickled forever are cut off by the request timeout', T, async () => {
    const trickle = Array.from({ length: 40 }, (_, i) =>
      i === 0 ? `POST ${path} HTTP/1.1\r\n` : `X-${i}: y\r\n`,
    );
    const probe = stillServes();
    const res = await rawExchange(port, trickle, { gapMs: 100, waitMs: 5_000 });
    await probe;
    assert.equal(res.closed, true, 'server closed the slow connection');
    assert.ok(res.elapsedMs < 3_500, `closed after ${res.elapsedMs} ms`);
    assert.match(res.text, /^HTTP\/1\.1 408 /);
    await stillServes();
  });

  test('a body trickled slower than the request timeout is cut off', T, async () => {
    const head =
      `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('host-x')}\r\n` +
      `Content-Type: application/sdp\r\nContent-Length: ${CHROMIUM_OFFER.length}\r\n\r\n`;
    const body = CHROMIUM_OFFER.split('\r\n').map((l) => l + '\r\n');
    const res = await rawExchange(port, [head, ...body], { gapMs: 100, waitMs: 5_000 });
    assert.equal(res.closed, true);
    assert.ok(res.elapsedMs < 3_500, `closed after ${res.elapsedMs} ms`);
    await stillServes();
  });

  test('oversized headers are 431', T, async () => {
    const res = await rawExchange(port, [
      `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(32 * 1024)}\r\n\r\n`,
    ]);
    assert.match(res.text, /^HTTP\/1\.1 431 /);
    await stillServes();
  });

  test('bytes that are not HTTP are 400', T, async () => {
    const res = await rawExchange(port, [
      '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u01fc\u0003\u0003garbage\r\n\r\n',
    ]);
    assert.match(res.text, /^HTTP\/1\.1 400 /);
    await stillServes();
  });

  test('a client gone before the answer leaves no orphaned session', T, async () => {
    backend.createDelayMs = 300;
    try {
      await rawExchange(
        port,
        [
          `POST /whip/${LIVE}/host-gone HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('host-gone')}\r\n` +
            `Content-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(CHROMIUM_OFFER)}\r\n\r\n` +
            CHROMIUM_OFFER,
        ],
        { waitMs: 100 },
      );
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      backend.createDelayMs = 0;
    }
    assert.ok(
      backend.created.some((c) => c.hostId === 'host-gone'),
      'the backend was asked',
    );
    assert.equal(backend.isPublishing(LIVE, 'host-gone'), false);
    await stillServes();
  });

  test('a backend failure is 500 without details; the error goes to onError', T, async () => {
    backend.nextFailure = new Error('pipeline exploded at /secret/path');
    const r = await expectStatus(publish('host-x'), 500, /could not be created/);
    assert.doesNotMatch(r.body, /exploded|secret/);
    assert.ok(errors.some((e) => e instanceof Error && e.message.includes('exploded')));
  });

  test('a backend at capacity is 503 with Retry-After', T, async () => {
    backend.nextFailure = new AtCapacityError(7);
    const r = await expectStatus(publish('host-x'), 503, /capacity/);
    assert.equal(r.headers['retry-after'], '7');
  });

  test('nothing but the injected failure reached onError', T, () => {
    assert.equal(errors.length, 1, String(errors));
  });
});
