import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MediaWorker } from '../../../src/media/media-worker.ts';
import { decodeErrors, probeMedia } from '../../support/ffprobe.ts';
import { request } from '../whip/whip-client.ts';
import { describe, snippetFiles, liveRigs, startPublisher, stopPublishers } from './harness.ts';

const { rig, publishers } = liveRigs('live-faults');

test(
  'a host killed and publishing again within 10 s continues the same recordings',
  { timeout: 150_000 },
  async () => {
    const r = await rig();
    publishers.push(startPublisher(r, 'h1', ['--pattern', 'red']));
    publishers.push(startPublisher(r, 'h2', ['--pattern', 'blue']));
    for (const id of ['h1', 'h2'])
      await r.waitFor((e) => e.event.hostId === id && e.event.type === 'joined', 20_000);
    const joined = r.events.find((e) => e.event.hostId === 'h1' && e.event.type === 'joined')!;
    await sleep(6_000);

    const killedAt = Date.now();
    const [victim] = publishers.splice(0, 1);
    await stopPublishers([victim!], 'SIGKILL');
    const dropped = await r.waitFor(
      (e) => e.event.hostId === 'h1' && e.event.type === 'dropped',
      12_000,
    );
    publishers.push(startPublisher(r, 'h1', ['--pattern', 'red']));
    const resumed = await r.waitFor(
      (e) => e.event.hostId === 'h1' && e.event.type === 'resumed',
      15_000,
    );
    assert.ok(resumed.event.at - killedAt < 10_000, `back after ${resumed.event.at - killedAt} ms`);
    await sleep(12_000);
    const stoppedAt = Date.now();
    await stopPublishers(publishers.splice(0), 'SIGTERM');
    await r.waitFor((e) => e.event.hostId === 'h1' && e.event.type === 'left', 15_000);
    await r.close();

    const h1Events = r.events.filter((e) => e.event.hostId === 'h1').map((e) => e.event.type);
    assert.deepEqual(
      h1Events.filter((t) => t !== 'camera-off' && t !== 'camera-on' && t !== 'video-started'),
      ['joined', 'audio-started', 'dropped', 'resumed', 'audio-started', 'left'],
      describe(r.events),
    );
    // Each publish's first picture, once, after its start: the keyframe the recorders began on.
    const publishes = h1Events.filter((t) => ['joined', 'resumed', 'video-started'].includes(t));
    assert.deepEqual(
      publishes,
      ['joined', 'video-started', 'resumed', 'video-started'],
      describe(r.events),
    );
    assert.equal(dropped.event.cause, 'publish');
    // One recording for h1, its snippets numbered without a gap, and video after the comeback.
    const files = await snippetFiles(r, 'host-h1');
    assert.ok(files.length >= 2, `host-h1: ${files.length} snippets`);
    assert.deepEqual(
      files.map((f) => Number(/_(\d+)\.mp4$/.exec(f)![1])),
      files.map((_, i) => i),
    );
    await assert.rejects(snippetFiles(r, 'host-h1-2'), /ENOENT/);
    // Where the last snippet ends depends on where the 15-s cuts fell, so it may be short; what
    // must hold is that the recording went on well past the comeback, in video that decodes.
    const last = files.at(-1)!;
    const closedAt = (await stat(last)).mtimeMs;
    assert.ok(
      closedAt > resumed.event.at + 8_000,
      `last snippet closed ${closedAt - resumed.event.at} ms after the comeback`,
    );
    const frames = (await Promise.all(files.map(probeMedia))).reduce(
      (n, info) => n + (info.video?.frames ?? 0),
      0,
    );
    const spanSec = (stoppedAt - joined.event.at) / 1000;
    assert.ok(frames > 15 * spanSec * 0.5, `${frames} frames over ${spanSec} s`);
    assert.equal(await decodeErrors(last), '');
    console.log(
      `h1: ${h1Events.join(', ')}; back ${resumed.event.at - killedAt} ms after the kill`,
    );
  },
);

test(
  'hostile requests get the right status while two hosts keep recording',
  { timeout: 150_000 },
  async () => {
    const r = await rig();
    publishers.push(startPublisher(r, 'h1'), startPublisher(r, 'h2'));
    for (const id of ['h1', 'h2'])
      await r.waitFor((e) => e.event.hostId === id && e.event.type === 'joined', 20_000);
    const port = r.server.port;
    const base = `/whip/${r.livestreamId}`;
    const sdp = { 'Content-Type': 'application/sdp' };
    const auth = (host: string, ls?: string) => ({ Authorization: `Bearer ${r.token(host, ls)}` });
    const h1Session = r.ingest.sessionOf(r.livestreamId, 'h1');
    assert.ok(h1Session);
    const goodOffer =
      'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n' +
      'c=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n' +
      'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=setup:actpass\r\n' +
      'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n';
    const cases: [string, () => Promise<{ status: number }>, number][] = [
      [
        'broken SDP',
        () => request(port, 'POST', `${base}/x1`, { ...sdp, ...auth('x1') }, 'hello'),
        400,
      ],
      ['empty body', () => request(port, 'POST', `${base}/x1`, { ...sdp, ...auth('x1') }, ''), 400],
      [
        'binary garbage',
        () =>
          request(
            port,
            'POST',
            `${base}/x1`,
            { ...sdp, ...auth('x1') },
            Buffer.from([0, 1, 2, 255, 254]),
          ),
        400,
      ],
      [
        'no m= line',
        () => request(port, 'POST', `${base}/x1`, { ...sdp, ...auth('x1') }, 'v=0\r\ns=-\r\n'),
        400,
      ],
      [
        'huge body',
        () =>
          request(
            port,
            'POST',
            `${base}/x1`,
            { ...sdp, ...auth('x1') },
            `v=0\r\n${'a=x\r\n'.repeat(40_000)}`,
          ),
        413,
      ],
      [
        'JSON content type',
        () =>
          request(
            port,
            'POST',
            `${base}/x1`,
            { 'Content-Type': 'application/json', ...auth('x1') },
            '{}',
          ),
        415,
      ],
      ['no content type', () => request(port, 'POST', `${base}/x1`, auth('x1'), goodOffer), 415],
      ['no token', () => request(port, 'POST', `${base}/x1`, sdp, goodOffer), 401],
      [
        'garbage token',
        () =>
          request(port, 'POST', `${base}/x1`, { ...sdp, Authorization: 'Bearer nope' }, goodOffer),
        401,
      ],
      [
        'Basic auth',
        () =>
          request(port, 'POST', `${base}/x1`, { ...sdp, Authorization: 'Basic eDp5' }, goodOffer),
        401,
      ],
      [
        'token for another livestream',
        () => request(port, 'POST', `${base}/x1`, { ...sdp, ...auth('x1', 'other') }, goodOffer),
        403,
      ],
      [
        'token for another host',
        () => request(port, 'POST', `${base}/x1`, { ...sdp, ...auth('x2') }, goodOffer),
        403,
      ],
      [
        'unknown livestream',
        () =>
          request(
            port,
            'POST',
            `/whip/nosuchshow/x1`,
            { ...sdp, ...auth('x1', 'nosuchshow') },
            goodOffer,
          ),
        404,
      ],
      [
        'double publish of a live host',
        () => request(port, 'POST', `${base}/h1`, { ...sdp, ...auth('h1') }, goodOffer),
        409,
      ],
      [
        'no codec we record',
        () =>
          request(
            port,
            'POST',
            `${base}/x1`,
            { ...sdp, ...auth('x1') },
            goodOffer.replace('opus/48000/2', 'PCMU/8000'),
          ),
        422,
      ],
      [
        "DELETE of someone else's session",
        () => request(port, 'DELETE', `${base}/h1/sessions/${h1Session}`, auth('h2')),
        403,
      ],
      [
        'DELETE of an unknown session',
        () => request(port, 'DELETE', `${base}/h1/sessions/nosuchsession`, auth('h1')),
        404,
      ],
      [
        'DELETE without a token',
        () => request(port, 'DELETE', `${base}/h1/sessions/nosuchsession`),
        401,
      ],
      [
        '".." in the path',
        () =>
          request(port, 'POST', `/whip/${r.livestreamId}/..`, { ...sdp, ...auth('x1') }, goodOffer),
        400,
      ],
      ['a path outside WHIP', () => request(port, 'GET', '/etc/passwd'), 404],
      ['GET on the endpoint', () => request(port, 'GET', `${base}/x1`, auth('x1')), 405],
      [
        'PATCH on a session',
        () =>
          request(
            port,
            'PATCH',
            `${base}/h1/sessions/abc`,
            { 'Content-Type': 'application/trickle-ice-sdpfrag', ...auth('h1') },
            'a=end-of-candidates\r\n',
          ),
        405,
      ],
      [
        'oversized headers',
        () =>
          request(
            port,
            'POST',
            `${base}/x1`,
            { ...sdp, 'X-Big': 'x'.repeat(64 * 1024) },
            goodOffer,
          ),
        431,
      ],
    ];
    const wrong: string[] = [];
    for (const [name, send, expected] of cases) {
      const reply = await send().catch((err: Error) => ({ status: -1, error: err.message }));
      if (reply.status !== expected) wrong.push(`${name}: ${reply.status}, wanted ${expected}`);
    }
    assert.deepEqual(wrong, []);
    assert.ok(cases.length >= 20);

    await sleep(17_000);
    const before = r.events.length;
    assert.ok(r.ingest.isPublishing(r.livestreamId, 'h1'));
    assert.ok(r.ingest.isPublishing(r.livestreamId, 'h2'));
    assert.equal(
      r.events.filter((e) => ['left', 'dropped'].includes(e.event.type)).length,
      0,
      describe(r.events),
    );
    await stopPublishers(publishers.splice(0), 'SIGTERM');
    await r.close();
    assert.ok(r.events.length >= before);
    for (const id of ['h1', 'h2']) {
      const files = await snippetFiles(r, `host-${id}`);
      assert.ok(files.length >= 2, `host-${id}: ${files.length} snippets`);
      const info = await probeMedia(files[0]!);
      assert.ok(
        Math.abs(info.durationSec - 15) < 0.2,
        `host-${id} first snippet ${info.durationSec} s`,
      );
    }
  },
);

test(
  'a host recording whose media worker died before it started is started again and records',
  { timeout: 120_000 },
  async () => {
    const workers: MediaWorker[] = [];
    const pool = {
      take() {
        const w = new MediaWorker();
        workers.push(w);
        // The first one dies before its recording can start.
        if (workers.length === 1) w.child.kill('SIGKILL');
        return w;
      },
    };
    const r = await rig({ pool });
    publishers.push(startPublisher(r, 'h1', ['--pattern', 'red']));
    await r.waitFor((e) => e.event.hostId === 'h1' && e.event.type === 'joined', 20_000);
    await sleep(8_000);
    await stopPublishers(publishers.splice(0), 'SIGTERM');
    await r.waitFor((e) => e.event.hostId === 'h1' && e.event.type === 'left', 15_000);
    await r.close();

    assert.equal(workers.length, 2, r.logs.join('\n'));
    assert.ok(
      r.logs.some((l) =>
        /h1: its recording did not start \(attempt 1 of 3\), trying again/.test(l),
      ),
      r.logs.join('\n'),
    );
    const files = await snippetFiles(r, 'host-h1');
    assert.ok(files.length >= 1, 'host-h1 recorded');
    const info = await probeMedia(files[0]!);
    assert.ok(info.video && info.video.durationSec > 4, JSON.stringify(info));
    assert.equal(await decodeErrors(files[0]!), '');
  },
);
