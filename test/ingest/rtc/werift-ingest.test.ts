import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { asksForKeyframe } from '../../../src/ingest/rtc/werift-session.ts';
import { spawnTracked, stopTracked } from '../../support/children.ts';
import { closeWhipServers, oneSessionWhip, spawnRtpRecorder } from './one-session-whip.ts';
import { decodeErrors, probeMedia } from '../../support/ffprobe.ts';
import { freeTcpPort } from '../../../src/support/free-port.ts';
import { run } from '../../support/run.ts';
import { ROOT, tempDir } from '../../support/tapedeck.ts';

const PUBLISHER = join(ROOT, 'src/ingest/publisher/whip-publisher.py');
const RECORD_MS = 8000;

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopTracked(c, 'SIGKILL')));
  await closeWhipServers();
});
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function lines(child: ChildProcess): string[] {
  const out: string[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    out.push(...parts);
  });
  return out;
}

function stderrOf(child: ChildProcess): () => string {
  const chunks: Buffer[] = [];
  child.stderr?.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8').slice(-2000);
}

test('asksForKeyframe finds a PLI inside a compound RTCP packet', () => {
  const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 1]);
  const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
  assert.equal(asksForKeyframe(Buffer.concat([rr, pli])), true);
  assert.equal(asksForKeyframe(rr), false);
});

test(
  'a GStreamer WHIP publisher is received by werift and recorded by GStreamer',
  { timeout: 90_000 },
  async (t) => {
    const dir = await tempDir('werift-ingest');
    dirs.push(dir);
    const out = join(dir, 'host.mp4');
    const [videoPort, audioPort] = [await freeTcpPort(), await freeTcpPort()];
    const whip = await oneSessionWhip({ video: videoPort, audio: audioPort });

    const publisher = spawnTracked(
      '/usr/bin/python3',
      [PUBLISHER, '--url', whip.url, '--name', 'host one', '--tone-hz', '523'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(publisher);
    const publisherEvents = lines(publisher);
    const publisherErr = stderrOf(publisher);

    const session = await Promise.race([
      whip.created,
      sleep(20_000).then(() => {
        throw new Error(`no WHIP POST; publisher said ${publisherErr()}`);
      }),
    ]);
    const { video, audio } = session.prepared;
    assert.ok(video && audio, 'offer has audio and video');
    assert.equal(video.codec, 'H264');
    assert.equal(audio.codec, 'OPUS');
    const firstVideo = new Promise<number>((resolve) =>
      session.on('first-rtp', (kind, ms) => kind === 'video' && resolve(ms)),
    );
    const firstRtp: Partial<Record<'audio' | 'video', number>> = {};
    session.on('first-rtp', (kind, ms) => (firstRtp[kind] = Math.round(ms)));
    // The payload types come from the offer, so the recorder starts once the session
    // exists. It is usually listening before DTLS completes; if it misses the first
    // keyframe anyway, its depayloader asks for another through the feedback port.
    const recorder = spawnRtpRecorder({
      session,
      video,
      audio,
      ports: { video: videoPort, audio: audioPort },
      out,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(recorder);
    const recorderErr = stderrOf(recorder);

    await new Promise<void>((resolve, reject) => {
      if (session.connected) resolve();
      session.once('connected', resolve);
      session.once('failed', reject);
    });
    const joinMs = await Promise.race([
      firstVideo,
      sleep(10_000).then(() => {
        throw new Error(
          `no video RTP within 10 s of connecting: ${JSON.stringify(session.counters())} ` +
            `${publisherEvents.join('\n')} ${publisherErr()} ${recorderErr()}`,
        );
      }),
    ]);
    assert.ok(joinMs < 5000, `POST to first RTP took ${joinMs} ms`);
    const recordStart = performance.now();
    await sleep(RECORD_MS / 2);
    // What a recorder's rtpsession sends when its depayloader loses sync: a PLI.
    const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0]);
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) =>
      udp.send(pli, session.feedbackPort('video'), '127.0.0.1', () => resolve()),
    );
    udp.close();
    await sleep(RECORD_MS / 2);
    // 8 s connected: werift's own consent checks would have sent one every 4 to 6 s.
    assert.equal(session.consentRequestsSent(), 0, 'liveness comes from the media');
    const recorderExit = await stopTracked(recorder, 'SIGINT', 10_000);
    const stoppedAt = performance.now();
    const recordedSec = (stoppedAt - recordStart) / 1000;
    // The session started at the POST, joinMs before the first video RTP.
    const sinceSessionSec = recordedSec + joinMs / 1000;
    assert.equal(recorderExit.code, 0, `recorder: ${recorderErr()}`);

    // DELETE on SIGTERM ends the session on the server side.
    await stopTracked(publisher, 'SIGTERM', 10_000);
    await Promise.race([
      whip.deleted,
      sleep(5000).then(() => {
        throw new Error(`publisher sent no DELETE: ${publisherEvents.join('\n')}`);
      }),
    ]);

    const counters = session.counters();
    assert.ok((counters.video?.packets ?? 0) > 100, JSON.stringify(counters));
    assert.ok((counters.audio?.packets ?? 0) > 100, JSON.stringify(counters));
    // Loopback loses nothing on the way in; what the counter says is checked in arrival-loss.test.ts.
    assert.equal(counters.video?.lost, 0, JSON.stringify(counters));
    assert.equal(counters.audio?.lost, 0, JSON.stringify(counters));
    // The recorder's rtpsession reports back to the forwarding socket, the path its
    // keyframe requests take.
    assert.ok((counters.video?.feedback ?? 0) > 0, JSON.stringify(counters));
    assert.ok((counters.video?.keyframeRequests ?? 0) >= 1, JSON.stringify(counters));

    const info = await probeMedia(out);
    assert.ok(info.video && info.audio, JSON.stringify(info));
    assert.equal(info.video?.codec, 'h264');
    assert.equal(info.video?.width, 640);
    assert.equal(info.video?.height, 360);
    assert.equal(info.audio?.codec, 'aac');
    // Video starts at a keyframe: the one asked for at start, or on a loaded machine where that
    // request came too early for the recorder, the publisher's next one (every 2 s).
    // The jitter buffer keeps the publisher's RTP timestamps, so the video spans capture time:
    // when a loaded publisher sends its first frames late, they still span the time since they
    // were captured, after the publish began, not since they arrived.
    assert.ok(
      info.video.durationSec > recordedSec - 3.5 && info.video.durationSec < sinceSessionSec + 1.5,
      `video ${info.video.durationSec} s for ${recordedSec} s recorded from the first video RTP, ` +
        `${sinceSessionSec} s from the POST (first RTP ${JSON.stringify(firstRtp)} ms after it); ` +
        `audio ${info.audio.durationSec} s`,
    );
    assert.ok(info.audio.durationSec > recordedSec - 1.5, `audio ${info.audio.durationSec} s`);
    assert.equal(await decodeErrors(out), '');
    // Keyframes every 2 s from the publisher plus the one asked for at start; many more
    // would mean a keyframe-request storm.
    const flags = await run('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'packet=pts_time,flags',
      '-of',
      'csv=p=0',
      out,
    ]);
    const keyframes = flags.stdout.split('\n').filter((f) => f.includes(',K')).length;
    t.diagnostic(
      JSON.stringify({
        joinMs: Math.round(joinMs),
        keyframesAt: flags.stdout
          .split('\n')
          .filter((f) => f.includes(',K'))
          .map((f) => f.split(',')[0]),
        counters,
      }),
    );
    assert.ok(
      keyframes >= 2 && keyframes <= 10,
      `${keyframes} keyframes; ${JSON.stringify(counters)}`,
    );
  },
);

test(
  'a killed publisher fails its session within the media timeout',
  { timeout: 60_000 },
  async () => {
    const whip = await oneSessionWhip({ video: await freeTcpPort(), audio: await freeTcpPort() });
    const publisher = spawnTracked('/usr/bin/python3', [PUBLISHER, '--url', whip.url], {
      stdio: 'ignore',
    });
    children.push(publisher);
    const session = await whip.created;
    await new Promise<void>((resolve, reject) => {
      if (session.connected) resolve();
      session.once('connected', resolve);
      session.once('failed', reject);
    });
    const failed = new Promise<Error>((resolve) => session.once('failed', resolve));
    const closed = new Promise<void>((resolve) => session.once('closed', resolve));
    const killedAt = performance.now();
    await stopTracked(publisher, 'SIGKILL');
    const error = await failed;
    await closed;
    const seconds = (performance.now() - killedAt) / 1000;
    assert.match(error.message, /no RTP/);
    assert.ok(seconds < 7, `noticed after ${seconds} s`);
  },
);
