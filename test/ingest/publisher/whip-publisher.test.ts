import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WeriftSession } from '../../../src/ingest/rtc/werift-session.ts';
import { spawnTracked, stopTracked } from '../../support/children.ts';
import { closeWhipServers, oneSessionWhip, spawnRtpRecorder } from '../rtc/one-session-whip.ts';
import { decodeErrors, packetTimes } from '../../support/ffprobe.ts';
import { freeTcpPort } from '../../../src/support/free-port.ts';
import { run, runOk } from '../../support/run.ts';
import { ROOT, tempDir } from '../../support/tapedeck.ts';

/**
 * The synthetic WHIP publisher's stdin commands, seen from the receiving side: RTP
 * counters of a werift session and what a GStreamer recorder behind it wrote.
 */

const PUBLISHER = join(ROOT, 'src/ingest/publisher/whip-publisher.py');

const children: ChildProcess[] = [];
const sockets: Socket[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopTracked(c, 'SIGKILL')));
  await closeWhipServers();
  for (const s of sockets.splice(0)) s.close();
});
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** H.264 NAL unit types an RTP packet carries (RFC 6184: single, STAP-A, FU-A). */
function nalTypes(rtp: Buffer): number[] {
  let offset = 12 + (rtp[0]! & 0x0f) * 4;
  if (rtp[0]! & 0x10) offset += 4 + rtp.readUInt16BE(offset + 2) * 4;
  const type = rtp[offset]! & 0x1f;
  if (type === 28) return [rtp[offset + 1]! & 0x1f];
  if (type !== 24) return [type];
  const types: number[] = [];
  for (let p = offset + 1; p + 2 < rtp.length; p += 2 + rtp.readUInt16BE(p)) {
    types.push(rtp[p + 2]! & 0x1f);
  }
  return types;
}

interface VideoPacket {
  at: number;
  nals: number[];
}

/**
 * Passes video RTP from the session on to `target` and notes what each packet carried:
 * the recorder's jitter buffer (mode=none) closes timestamp gaps, so what came first
 * after a pause is only visible on the wire.
 */
async function videoTap(target: number): Promise<{ port: number; packets: VideoPacket[] }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const packets: VideoPacket[] = [];
  // The recorder may not listen yet; ECONNREFUSED on send is expected then.
  socket.on('error', () => undefined);
  socket.on('message', (rtp) => {
    packets.push({ at: performance.now(), nals: nalTypes(rtp) });
    socket.send(rtp, target, '127.0.0.1');
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, packets };
}

type PublisherEvent = Record<string, unknown> & { event: string };

interface Live {
  publisher: ChildProcess;
  session: WeriftSession;
  /** Every video RTP packet the session forwarded. */
  videoPackets: VideoPacket[];
  /** Writes one command line and resolves with the next event of that name. */
  send(command: string, event: string): Promise<PublisherEvent>;
  packets(): { video: number; audio: number };
  /** Resolves when the first video packet reached the session. */
  firstVideo: Promise<void>;
  /** Stops the recorder (if any) and resolves with the MP4 it wrote. */
  stopRecorder(): Promise<string>;
  diagnostics(): string;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts the publisher against a WHIP server and, with `record`, a recorder behind it. */
async function publish(args: string[], record?: string): Promise<Live> {
  const [videoPort, audioPort] = [await freeTcpPort(), await freeTcpPort()];
  const tap = await videoTap(videoPort);
  const whip = await oneSessionWhip({ video: tap.port, audio: audioPort });
  const publisher = spawnTracked('/usr/bin/python3', [PUBLISHER, '--url', whip.url, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(publisher);
  const events: PublisherEvent[] = [];
  let partial = '';
  let stderr = '';
  publisher.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) events.push(JSON.parse(line) as PublisherEvent);
  });
  publisher.stderr!.on(
    'data',
    (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)),
  );
  let recorderErr = '';
  const diagnostics = () =>
    `events: ${JSON.stringify(events)}\npublisher: ${stderr}\nrecorder: ${recorderErr}`;

  const session = await withTimeout(whip.created, 20_000, () => `no WHIP POST; ${diagnostics()}`);
  const firstVideo = new Promise<void>((resolve) =>
    session.on('first-rtp', (kind) => kind === 'video' && resolve()),
  );
  let recorder: ChildProcess | undefined;
  if (record) {
    const { video, audio } = session.prepared;
    assert.ok(video && audio, 'offer has audio and video');
    recorder = spawnRtpRecorder({
      session,
      video,
      audio,
      ports: { video: videoPort, audio: audioPort },
      out: record,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(recorder);
    recorder.stderr!.on(
      'data',
      (c: Buffer) => (recorderErr = (recorderErr + c.toString()).slice(-2000)),
    );
  }
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      if (session.connected) resolve();
      session.once('connected', resolve);
      session.once('failed', reject);
    }),
    15_000,
    () => `not connected; ${diagnostics()}`,
  );

  return {
    publisher,
    session,
    videoPackets: tap.packets,
    firstVideo,
    diagnostics,
    packets() {
      const c = session.counters();
      return { video: c.video?.packets ?? 0, audio: c.audio?.packets ?? 0 };
    },
    async send(command, event) {
      const seen = events.length;
      publisher.stdin!.write(`${command}\n`);
      const deadline = performance.now() + 5000;
      for (;;) {
        const found = events.slice(seen).find((e) => e.event === event);
        if (found) return found;
        if (performance.now() > deadline)
          throw new Error(`no ${event} event after "${command}"; ${diagnostics()}`);
        await sleep(20);
      }
    },
    async stopRecorder() {
      assert.ok(recorder && record, 'started without a recorder');
      const exit = await stopTracked(recorder, 'SIGINT', 10_000);
      assert.equal(exit.code, 0, `recorder: ${recorderErr}`);
      return record;
    },
  };
}

/** Packets of each kind that arrive during `ms`, starting after in-flight ones drained. */
async function growth(live: Live, ms: number): Promise<{ video: number; audio: number }> {
  // The session's jitter buffer and the network hold some packets sent before a command.
  await sleep(500);
  const before = live.packets();
  await sleep(ms);
  const now = live.packets();
  return { video: now.video - before.video, audio: now.audio - before.audio };
}

test(
  'camera off stops video RTP, camera on resumes it from a keyframe; mic likewise for audio',
  { timeout: 60_000 },
  async (t) => {
    const dir = await tempDir('whip-publisher');
    dirs.push(dir);
    const live = await publish([], join(dir, 'camera.mp4'));
    await withTimeout(live.firstVideo, 10_000, () => `no video RTP; ${live.diagnostics()}`);
    await sleep(2000);

    const off = await live.send('camera off', 'camera');
    assert.equal(off.on, false);
    assert.equal(typeof off.t, 'number');
    const cameraOff = await growth(live, 2500);
    assert.equal(cameraOff.video, 0, `video during camera off: ${JSON.stringify(cameraOff)}`);
    assert.ok(cameraOff.audio > 50, `audio during camera off: ${JSON.stringify(cameraOff)}`);

    assert.equal((await live.send('camera on', 'camera')).on, true);
    const cameraOn = await growth(live, 1500);
    assert.ok(cameraOn.video > 10, `video after camera on: ${JSON.stringify(cameraOn)}`);

    // On the wire, the first video packet after the pause starts a keyframe (SPS or IDR).
    const resumed = live.videoPackets.findIndex(
      (p, i) => i > 0 && p.at - live.videoPackets[i - 1]!.at > 2000,
    );
    assert.ok(resumed > 0, 'no 2 s pause in the video packets');
    const first = live.videoPackets[resumed]!;
    const pauseMs = first.at - live.videoPackets[resumed - 1]!.at;
    t.diagnostic(`video paused ${Math.round(pauseMs)} ms, resumed with NAL types ${first.nals}`);
    assert.ok(
      first.nals.some((type) => type === 7 || type === 5),
      `resumed with NAL types ${first.nals.join(',')}`,
    );
    assert.equal(await decodeErrors(await live.stopRecorder()), '');

    assert.equal((await live.send('mic off', 'mic')).on, false);
    const micOff = await growth(live, 2500);
    assert.equal(micOff.audio, 0, `audio during mic off: ${JSON.stringify(micOff)}`);
    assert.ok(micOff.video > 20, `video during mic off: ${JSON.stringify(micOff)}`);
    assert.equal((await live.send('mic on', 'mic')).on, true);
    const micOn = await growth(live, 1000);
    assert.ok(micOn.audio > 20, `audio after mic on: ${JSON.stringify(micOn)}`);
  },
);

interface Frame {
  pts: number;
  yavg: number;
  ymax: number;
}

/** Per-frame luma of the first video stream and freezedetect's frozen spans, raw stream times. */
async function videoStats(file: string): Promise<{ frames: Frame[]; freezes: [number, number][] }> {
  const { stderr } = await runOk('ffmpeg', [
    ...'-nostdin -hide_banner -nostats -copyts -i'.split(' '),
    file,
    ...'-map 0:v:0 -vf freezedetect=n=-60dB:d=1,signalstats,metadata=print -f null -'.split(' '),
  ]);
  const frames: Frame[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (const line of stderr.split('\n')) {
    const pts = /pts_time:(\S+)/.exec(line);
    if (pts) frames.push({ pts: Number(pts[1]), yavg: Number.NaN, ymax: Number.NaN });
    const stat = /lavfi\.signalstats\.(YAVG|YMAX)=(\S+)/.exec(line);
    const frame = frames.at(-1);
    if (stat && frame) frame[stat[1] === 'YAVG' ? 'yavg' : 'ymax'] = Number(stat[2]);
    const start = /lavfi\.freezedetect\.freeze_start: (\S+)/.exec(line);
    if (start) starts.push(Number(start[1]));
    const end = /lavfi\.freezedetect\.freeze_end: (\S+)/.exec(line);
    if (end) ends.push(Number(end[1]));
  }
  const last = frames.at(-1)?.pts ?? 0;
  const freezes = starts.map((s, i): [number, number] => [s, ends[i] ?? last]);
  return { frames, freezes };
}

/** Left channel of the first audio stream as floats, and the stream time of sample 0. */
async function audioSamples(file: string, dir: string): Promise<{ start: number; left: number[] }> {
  const raw = join(dir, 'audio.s16');
  await runOk('ffmpeg', [
    ...'-nostdin -v error -y -i'.split(' '),
    file,
    ...'-map 0:a:0 -ac 2 -ar 48000 -f s16le'.split(' '),
    raw,
  ]);
  const bytes = await readFile(raw);
  const left: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i += 4) left.push(bytes.readInt16LE(i) / 32768);
  const start = (await packetTimes(file, 'a'))[0]?.ptsSec ?? 0;
  return { start, left };
}

interface Level {
  peak: number;
  rms: number;
  /** Share of samples within 1 dB of full scale. */
  fullScale: number;
  /** Sign changes per sample: ~0.02 for a 440 Hz tone, ~0.5 for white noise. */
  zeroCrossings: number;
}

function level(samples: number[]): Level {
  let peak = 0;
  let sumSq = 0;
  let full = 0;
  let crossings = 0;
  samples.forEach((s, i) => {
    peak = Math.max(peak, Math.abs(s));
    sumSq += s * s;
    if (Math.abs(s) >= 0.89) full += 1;
    if (i > 0 && Math.sign(s) !== Math.sign(samples[i - 1]!)) crossings += 1;
  });
  const n = Math.max(samples.length, 1);
  return { peak, rms: Math.sqrt(sumSq / n), fullScale: full / n, zeroCrossings: crossings / n };
}

test(
  'impair black, frozen, silence, clipping and noise show in the recording',
  { timeout: 60_000 },
  async (t) => {
    const dir = await tempDir('whip-publisher');
    dirs.push(dir);
    const live = await publish(['--name', 'impaired host'], join(dir, 'impair.mp4'));
    await withTimeout(live.firstVideo, 10_000, () => `no video RTP; ${live.diagnostics()}`);
    const zero = performance.now();
    // Wall-clock phases in seconds. Where a phase lies in the file is found from the first
    // black frame and the first silence, the moment 'impair black' and 'impair silence'
    // took effect: the recording's zero is not the first packet's arrival (the first
    // keyframe can be older than the rest of the stream).
    const phases: Record<string, [number, number]> = {};
    const phase = async (name: string, ms: number, commands: string[]): Promise<void> => {
      for (const command of commands) {
        const event = await live.send(command, 'impair');
        assert.equal(event.name, command.split(' ')[1]);
      }
      const start = (performance.now() - zero) / 1000;
      await sleep(ms);
      phases[name] = [start, (performance.now() - zero) / 1000];
    };
    await phase('clean', 4000, []);
    await phase('black+silence', 3000, ['impair black', 'impair silence']);
    await phase('frozen+clipping', 3000, ['impair frozen', 'impair clipping']);
    await phase('noise', 3000, ['impair none', 'impair noise']);
    const file = await live.stopRecorder();

    const [video, audio] = await Promise.all([videoStats(file), audioSamples(file, dir)]);
    const blackAt = video.frames.find((f) => f.ymax < 60)?.pts;
    assert.ok(blackAt !== undefined, 'no black frame at all');
    const silentRun = 4800;
    let silentFrom = -1;
    for (let i = 0, quiet = 0; i < audio.left.length && silentFrom < 0; i++) {
      quiet = Math.abs(audio.left[i]!) < 0.001 ? quiet + 1 : 0;
      if (quiet === silentRun) silentFrom = i + 1 - silentRun;
    }
    assert.ok(silentFrom >= 0, 'no 100 ms of silence at all');
    const silenceAt = audio.start + silentFrom / 48000;
    // A phase in stream time, one second in (plenty for a command to take effect) and
    // 0.3 s short of its end (which may already show the next one).
    const within = (name: string, anchor: number): [number, number] => {
      const [start, end] = phases[name]!;
      const edge = phases['black+silence']![0];
      return [anchor + start - edge + 1, anchor + end - edge - 0.3];
    };
    const framesIn = (name: string) => {
      const [from, to] = within(name, blackAt);
      const frames = video.frames.filter((f) => f.pts >= from && f.pts <= to);
      assert.ok(frames.length >= 15, `${frames.length} frames in ${name}`);
      return frames;
    };
    const audioIn = (name: string) => {
      const [from, to] = within(name, silenceAt).map((x) => Math.round((x - audio.start) * 48000));
      const samples = audio.left.slice(Math.max(0, from!), to);
      assert.ok(samples.length >= 48000, `${samples.length} samples in ${name}`);
      return level(samples);
    };
    const frozenOverlapping = ([from, to]: [number, number]) =>
      video.freezes.filter(([s, e]) => s < to && e > from);

    const clean = framesIn('clean');
    const black = framesIn('black+silence');
    const frozen = framesIn('frozen+clipping');
    const levels = {
      clean: audioIn('clean'),
      silence: audioIn('black+silence'),
      clipping: audioIn('frozen+clipping'),
      noise: audioIn('noise'),
    };
    t.diagnostic(JSON.stringify({ phases, blackAt, silenceAt, freezes: video.freezes, levels }));

    // The ball pattern is mostly black itself: what makes it not black is the ball and
    // the name, i.e. bright pixels.
    for (const f of clean) assert.ok(f.ymax > 150, `clean frame ${JSON.stringify(f)}`);
    for (const f of black) assert.ok(f.yavg < 30 && f.ymax < 60, `black? ${JSON.stringify(f)}`);
    // Frozen on the live picture (not on the black before it), and identical frames.
    for (const f of frozen) assert.ok(f.ymax > 150, `frozen frame ${JSON.stringify(f)}`);
    const [frozenFrom, frozenTo] = within('frozen+clipping', blackAt);
    assert.ok(
      video.freezes.some(([s, e]) => s <= frozenFrom && e >= frozenTo),
      `no freeze over ${frozenFrom}-${frozenTo}: ${JSON.stringify(video.freezes)}`,
    );
    assert.deepEqual(frozenOverlapping(within('clean', blackAt)), [], 'clean video froze');
    assert.deepEqual(frozenOverlapping(within('noise', blackAt)), [], 'video froze after none');

    assert.ok(levels.clean.peak > 0.1 && levels.clean.peak < 0.6, JSON.stringify(levels.clean));
    assert.equal(levels.clean.fullScale, 0, JSON.stringify(levels.clean));
    // Below -60 dBFS.
    assert.ok(levels.silence.peak < 0.001, JSON.stringify(levels.silence));
    // Within 1 dB of full scale, through Opus and AAC.
    assert.ok(levels.clipping.peak > 0.89, JSON.stringify(levels.clipping));
    assert.ok(levels.clipping.fullScale > 0.5, JSON.stringify(levels.clipping));
    assert.ok(levels.noise.rms > 0.25, JSON.stringify(levels.noise));
    assert.ok(levels.noise.zeroCrossings > 0.2, JSON.stringify(levels.noise));
    assert.ok(levels.clean.zeroCrossings < 0.05, JSON.stringify(levels.clean));
  },
);

test(
  'an unknown command or the end of stdin leaves the publisher publishing',
  { timeout: 60_000 },
  async () => {
    const live = await publish([]);
    await withTimeout(live.firstVideo, 10_000, () => `no video RTP; ${live.diagnostics()}`);
    const error = await live.send('dance', 'error');
    assert.match(String(error.message), /dance/);
    const badImpairment = await live.send('impair sepia', 'error');
    assert.match(String(badImpairment.message), /sepia/);
    const afterError = await growth(live, 1000);
    assert.ok(afterError.video > 5 && afterError.audio > 20, JSON.stringify(afterError));

    live.publisher.stdin!.end();
    const afterEof = await growth(live, 1500);
    assert.ok(afterEof.video > 10 && afterEof.audio > 30, JSON.stringify(afterEof));
    assert.equal(live.publisher.exitCode, null);
  },
);

test('--camera off starts without video until camera on', { timeout: 60_000 }, async () => {
  const live = await publish(['--camera', 'off']);
  const start = await growth(live, 2000);
  assert.equal(start.video, 0, JSON.stringify(start));
  assert.ok(start.audio > 50, JSON.stringify(start));
  await live.send('camera on', 'camera');
  await withTimeout(live.firstVideo, 5000, () => `no video after camera on; ${live.diagnostics()}`);
});

test('--help teaches the stdin commands', { timeout: 30_000 }, async () => {
  const { stdout } = await runOk('/usr/bin/python3', [PUBLISHER, '--help']);
  for (const command of ['camera off', 'mic on', 'impair frozen', 'impair clipping', '--impair'])
    assert.ok(stdout.includes(command), `--help lacks ${command}`);
  // A missing --url is a usage error, not a hang waiting for stdin.
  const bad = await run('/usr/bin/python3', [PUBLISHER]);
  assert.equal(bad.code, 2);
});
