import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { issueToken } from '../../../src/domain/whip-token.ts';
import {
  launchChromium,
  type ChromiumHost,
  type ChromiumPublisherBrowser,
} from '../../../src/ingest/publisher/chromium-publisher.ts';
import { rtpCaps } from '../../../src/ingest/rtc/offer.ts';
import { WeriftSession } from '../../../src/ingest/rtc/werift-session.ts';
import type { SessionBackend } from '../../../src/ingest/whip/backend.ts';
import { startWhipServer, type WhipServer } from '../../../src/ingest/whip/server.ts';
import { spawnTracked, stopTracked } from '../../support/children.ts';
import { probeMedia } from '../../support/ffprobe.ts';
import { privateNetworkOnly } from '../../support/netns.ts';
import { freeTcpPort } from '../../../src/support/free-port.ts';
import { run } from '../../support/run.ts';
import { tempDir } from '../../support/tapedeck.ts';

const LIVE = 'live-1';
const SECRET = 'chromium-publisher-test-secret';
const RECORD_MS = 6000;
const skip = privateNetworkOnly();

const browsers: ChromiumPublisherBrowser[] = [];
const children: ChildProcess[] = [];
const servers: WhipServer[] = [];
const sessions = new Set<WeriftSession>();
const dirs: string[] = [];

afterEach(async () => {
  // The browser first: its process group must go even when an assertion failed mid-test.
  await Promise.all(browsers.splice(0).map((b) => b.close()));
  await Promise.all(children.splice(0).map((c) => stopTracked(c, 'SIGKILL')));
  await Promise.all([...sessions].map((s) => s.close()));
  sessions.clear();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

interface Ingest {
  server: WhipServer;
  whipUrl(hostId: string): string;
  token(hostId: string): string;
  /** The session the next POST for a host creates. */
  created(hostId: string): Promise<WeriftSession>;
  /** Session ids the server ended because of a DELETE. */
  deleted: string[];
}

/** startWhipServer with a backend that terminates each session with werift. */
async function ingest(forward: { video: number; audio: number }): Promise<Ingest> {
  const owners = new Map<string, { hostId: string; session: WeriftSession }>();
  const waiting = new Map<string, (s: WeriftSession) => void>();
  const arrived = new Map<string, WeriftSession>();
  const deleted: string[] = [];
  let next = 0;
  const backend: SessionBackend = {
    hasLivestream: (id) => id === LIVE,
    isPublishing: (_, hostId) => [...owners.values()].some((o) => o.hostId === hostId),
    async createSession({ hostId, offerSdp }) {
      const session = new WeriftSession({
        offer: offerSdp,
        forward: { video: { port: forward.video }, audio: { port: forward.audio } },
      });
      sessions.add(session);
      const answerSdp = await session.start();
      const sessionId = `s${++next}`;
      owners.set(sessionId, { hostId, session });
      const resolve = waiting.get(hostId);
      if (resolve) resolve(session);
      else arrived.set(hostId, session);
      return { sessionId, answerSdp };
    },
    async deleteSession(sessionId) {
      const owner = owners.get(sessionId);
      owners.delete(sessionId);
      await owner?.session.close();
      deleted.push(sessionId);
    },
    sessionOwner: (sessionId) => {
      const owner = owners.get(sessionId);
      return owner ? { livestreamId: LIVE, hostId: owner.hostId } : null;
    },
  };
  const server = await startWhipServer({ backend, tokenSecret: SECRET });
  servers.push(server);
  return {
    server,
    whipUrl: (hostId) => `${server.url}/whip/${LIVE}/${hostId}`,
    token: (hostId) =>
      issueToken(SECRET, { livestreamId: LIVE, hostId, expiresAt: Date.now() + 600_000 }),
    created: (hostId) => {
      const early = arrived.get(hostId);
      if (early) {
        arrived.delete(hostId);
        return Promise.resolve(early);
      }
      return new Promise((resolve) => waiting.set(hostId, resolve));
    },
    deleted,
  };
}

async function browser(): Promise<ChromiumPublisherBrowser> {
  const b = await launchChromium();
  browsers.push(b);
  return b;
}

function stderrOf(child: ChildProcess): () => string {
  const chunks: Buffer[] = [];
  child.stderr?.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8').slice(-2000);
}

/**
 * Decodes every video frame. Not ffmpeg -f null (decodeErrors): that re-stamps frames on a
 * fixed-rate clock and complains when a loaded browser's capture times come closer than a tick.
 */
async function decode(path: string): Promise<{ videoFrames: number; errors: string }> {
  const { code, stdout, stderr } = await run('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    path,
  ]);
  const errors = stderr.trim() || (code === 0 ? '' : `ffprobe exited with ${code}`);
  return { videoFrames: Number.parseInt(stdout.trim(), 10), errors };
}

function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  return Promise.race([
    promise,
    sleep(ms).then(() => {
      throw new Error(`${what()} within ${ms} ms`);
    }),
  ]);
}

async function recordsOneHost(t: TestContext, videoCodec: 'H264' | 'VP8'): Promise<void> {
  const dir = await tempDir(`chromium-${videoCodec}`);
  dirs.push(dir);
  const [videoPort, audioPort] = [await freeTcpPort(), await freeTcpPort()];
  const whip = await ingest({ video: videoPort, audio: audioPort });
  const chromium = await browser();

  const created = whip.created('host-a');
  const publishing = chromium.publish({
    whipUrl: whip.whipUrl('host-a'),
    token: whip.token('host-a'),
    name: 'Host A',
    videoCodec,
  });
  // A publish() that fails before the POST must end the wait with its own error.
  const session = await within(
    Promise.race([created, publishing.then(() => created)]),
    20_000,
    () => 'no WHIP session',
  );
  const { video, audio } = session.prepared;
  assert.ok(video && audio, 'offer has audio and video');
  assert.equal(video.codec, videoCodec);
  assert.equal(audio.codec, 'OPUS');

  // The browser's own bitstream is recorded as it came, so probing the file checks Chromium's
  // encoder, not ours. WebM for VP8: mp4mux takes no VP8 here.
  const [videoBranch, audioBranch, mux] =
    videoCodec === 'H264'
      ? [
          'rtph264depay request-keyframe=true ! h264parse',
          'opusdec ! audioconvert ! audioresample ! avenc_aac ! aacparse',
          'mp4mux',
        ]
      : ['rtpvp8depay request-keyframe=true wait-for-keyframe=true', 'opusparse', 'webmmux'];
  const out = join(dir, videoCodec === 'H264' ? 'host.mp4' : 'host.webm');
  const recorder = spawnTracked(
    'gst-launch-1.0',
    [
      '-e',
      ...`rtpsession name=vs
      udpsrc port=${videoPort} buffer-size=4194304 caps="${rtpCaps(video)},rtcp-fb-nack-pli=(int)1" ! vs.recv_rtp_sink
      vs.recv_rtp_src ! rtpjitterbuffer latency=200 mode=none ! ${videoBranch} ! queue ! mux.
      vs.send_rtcp_src ! udpsink host=127.0.0.1 port=${session.feedbackPort('video')} sync=false async=false
      udpsrc port=${audioPort} caps="${rtpCaps(audio)}" ! rtpjitterbuffer latency=200 mode=none
        ! rtpopusdepay ! ${audioBranch} ! queue ! mux.
      ${mux} name=mux ! filesink location=${out}`
        .split(/\s+/)
        .filter((token) => token !== '')
        .map((token) => token.replaceAll('"', '')),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(recorder);
  const recorderErr = stderrOf(recorder);
  const playing = new Promise<void>((resolve) => {
    let said = '';
    recorder.stdout?.on('data', (c: Buffer) => {
      said = (said + c.toString('utf8')).slice(-500);
      if (said.includes('PLAYING')) resolve();
    });
  });
  // The recorder starts listening after the publish began, so the browser's first keyframe may
  // have gone by; a VP8 depayloader waits for one and asks only after a loss, and Chromium sends
  // the next one minutes later. A recorder attached through the ingest gets the same requests.
  await within(playing, 20_000, () => `recorder not playing: ${recorderErr()}`);
  session.requestKeyframeSoon();

  const host = await within(publishing, 20_000, () => 'publish() did not finish');
  assert.equal(host.name, 'Host A');
  assert.match(host.sessionUrl, new RegExp(`^${whip.server.url}/whip/${LIVE}/host-a/sessions/`));
  await sleep(RECORD_MS);
  const counters = session.counters();
  const sent = await host.stats();
  assert.equal(sent.state, 'connected');

  await host.unpublish();
  assert.deepEqual(whip.deleted, [host.sessionUrl.split('/').at(-1)]);
  assert.equal(session.connected, false, 'DELETE closed the server side');
  await host.unpublish(); // a second call neither throws nor sends another DELETE
  assert.equal(whip.deleted.length, 1);

  const exit = await stopTracked(recorder, 'SIGINT', 10_000);
  assert.equal(exit.code, 0, `recorder: ${recorderErr()}`);
  const info = await probeMedia(out);
  const decoded = await decode(out);
  t.diagnostic(JSON.stringify({ timings: host.timings, camera: host.camera, sent, counters }));
  t.diagnostic(JSON.stringify({ info, decoded }));
  assert.deepEqual(host.camera, { width: 640, height: 360, frameRate: 30 });
  assert.ok(info.video && info.audio, JSON.stringify(info));
  assert.equal(info.video.codec, videoCodec.toLowerCase());
  assert.equal(info.video.width, 640);
  assert.equal(info.video.height, 360);
  assert.equal(info.audio.codec, videoCodec === 'H264' ? 'aac' : 'opus');
  assert.ok(info.audio.durationSec > RECORD_MS / 1000 - 2, `audio ${info.audio.durationSec} s`);
  assert.equal(decoded.errors, '');
  // 30 fps for RECORD_MS, less the start-up and what a loaded machine makes Chromium drop.
  assert.ok(decoded.videoFrames > (RECORD_MS / 1000) * 10, `${decoded.videoFrames} frames`);
  assert.ok((counters.video?.packets ?? 0) > 100, JSON.stringify(counters));
  assert.ok((counters.audio?.packets ?? 0) > 100, JSON.stringify(counters));
  assert.ok(sent.videoPacketsSent >= (counters.video?.packets ?? 0), JSON.stringify(sent));
}

test(
  'Chromium publishes H.264 and opus over WHIP; the recording has both',
  { timeout: 90_000, skip },
  (t) => recordsOneHost(t, 'H264'),
);

test(
  'Chromium publishes VP8 and opus over WHIP; the recording has both',
  { timeout: 90_000, skip },
  (t) => recordsOneHost(t, 'VP8'),
);

function packets(session: WeriftSession): { video: number; audio: number } {
  const c = session.counters();
  return { video: c.video?.packets ?? 0, audio: c.audio?.packets ?? 0 };
}

test(
  'camera and microphone off stop their RTP; on starts it again',
  { timeout: 90_000, skip },
  async (t) => {
    // Nobody listens on these ports: only the forwarded-packet counters matter here.
    const whip = await ingest({ video: await freeTcpPort(), audio: await freeTcpPort() });
    const chromium = await browser();
    const created = whip.created('host-b');
    const host: ChromiumHost = await chromium.publish({
      whipUrl: whip.whipUrl('host-b'),
      token: whip.token('host-b'),
      name: 'Host B',
      maxKbps: 800,
    });
    const session = await created;
    await sleep(1500);
    const flowing = packets(session);
    assert.ok(flowing.video > 30 && flowing.audio > 30, JSON.stringify(flowing));

    await host.setCamera(false);
    // Packets already in flight or in the pacer still arrive.
    await sleep(500);
    const cameraOff = packets(session);
    await sleep(2500);
    const cameraStillOff = packets(session);
    assert.equal(cameraStillOff.video, cameraOff.video, 'no video RTP for 2.5 s');
    assert.ok(cameraStillOff.audio - cameraOff.audio > 80, JSON.stringify(cameraStillOff));

    await host.setCamera(true);
    await sleep(2000);
    const cameraOn = packets(session);
    assert.ok(cameraOn.video - cameraStillOff.video > 30, JSON.stringify(cameraOn));

    await host.setMicrophone(false);
    await sleep(500);
    const micOff = packets(session);
    await sleep(2500);
    const micStillOff = packets(session);
    assert.equal(micStillOff.audio, micOff.audio, 'no audio RTP for 2.5 s');
    assert.ok(micStillOff.video - micOff.video > 30, JSON.stringify(micStillOff));
    await host.setMicrophone(true);
    await sleep(1500);
    const micOn = packets(session);
    assert.ok(micOn.audio - micStillOff.audio > 30, JSON.stringify(micOn));
    assert.equal(session.connected, true, 'the session outlived both');

    t.diagnostic(
      JSON.stringify({
        timings: host.timings,
        flowing,
        cameraOff,
        cameraStillOff,
        cameraOn,
        micStillOff,
        micOn,
      }),
    );
    await host.unpublish();
    assert.equal(whip.deleted.length, 1);
  },
);

test('a refused POST rejects with the status and the body', { timeout: 60_000, skip }, async () => {
  const whip = await ingest({ video: await freeTcpPort(), audio: await freeTcpPort() });
  const chromium = await browser();
  await assert.rejects(
    chromium.publish({
      whipUrl: whip.whipUrl('host-c'),
      token: whip.token('host-other'),
      name: 'Host C',
    }),
    /answered 403: .*another livestream or host/,
  );
  await assert.rejects(
    chromium.publish({ whipUrl: whip.whipUrl('host-c'), name: 'Host C' }),
    /answered 401: .*Bearer token is required/,
  );
  // The browser is still usable after refusals.
  const host = await chromium.publish({
    whipUrl: whip.whipUrl('host-c'),
    token: whip.token('host-c'),
    name: 'Host C',
  });
  await host.unpublish();
  assert.equal(whip.deleted.length, 1);
});

test('a missing Chromium is reported with the way to install it', { timeout: 10_000 }, async () => {
  await assert.rejects(
    launchChromium({ executablePath: '/nonexistent/chromium' }),
    /Chromium not found at \/nonexistent\/chromium; `bash scripts\/setup.sh` installs/,
  );
});

/**
 * Live (non-zombie) processes in a process group. Zombies do not count: Chromium's zygotes are
 * reparented to PID 1 when the browser exits, and not every container's PID 1 reaps them.
 */
async function liveInGroup(pgid: number): Promise<number[]> {
  const live: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command: state, ppid, pgrp, ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (pgrp === String(pgid) && state !== 'Z' && state !== 'X') live.push(Number(entry));
  }
  return live;
}

test(
  'close() ends every Chromium process, even when the browser no longer answers',
  { timeout: 60_000, skip },
  async () => {
    const answering = await browser();
    assert.ok(answering.pid !== undefined);
    assert.ok((await liveInGroup(answering.pid)).length > 1, 'browser, zygotes, renderers');
    await answering.close();
    assert.deepEqual(await liveInGroup(answering.pid), [], 'graceful close left processes behind');

    const frozen = await browser();
    assert.ok(frozen.pid !== undefined);
    process.kill(-frozen.pid, 'SIGSTOP');
    const started = performance.now();
    await frozen.close();
    assert.deepEqual(await liveInGroup(frozen.pid), [], 'a stopped browser survived close()');
    assert.ok(performance.now() - started < 15_000, 'close() of a stopped browser took too long');
  },
);
