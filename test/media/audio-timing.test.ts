import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { runSyntheticRecording } from '../../src/media/synthetic-recording.ts';
import type { WorkerEvent } from '../../src/media/worker/protocol.ts';
import { freeUdpPort } from '../../src/support/free-port.ts';
import { measureAvSync } from '../support/av-sync.ts';
import { stopTracked } from '../support/children.ts';
import { probeMedia } from '../support/ffprobe.ts';
import { decodingHost, spec, startHost } from '../support/shared-picture.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Every flash's A/V offset in these snippets, in order, leaving out those past `withinMs`. */
async function offsetsIn(snippets: { location: string }[], withinMs: number): Promise<number[]> {
  const offsets: number[] = [];
  for (const s of snippets)
    offsets.push(
      ...(await measureAvSync(s.location)).offsetsMs.filter((o) => Math.abs(o) < withinMs),
    );
  return offsets;
}

/** A folder for a recording's snippets, removed at the end, and two free ports for its host. */
async function recordingPlace(name: string) {
  const out = await tempDir(name);
  dirs.push(out);
  const [video, audio] = await Promise.all([freeUdpPort(), freeUdpPort()]);
  return { out, video, audio };
}

/** Stops a process and its children for `ms`, as a starved machine does. */
async function stall(pid: number, ms: number): Promise<void> {
  const { stdout } = await promisify(execFile)('sh', ['-c', `pgrep -P ${pid} || true`]);
  const pids = [pid, ...stdout.split('\n').filter(Boolean).map(Number)];
  for (const p of pids) process.kill(p, 'SIGSTOP');
  await sleep(ms);
  for (const p of pids) process.kill(p, 'SIGCONT');
}

for (const who of ['recorder', 'sender'] as const)
  test(
    `a ${who} stalled for 1.5 s leaves the sound in step with the picture after it`,
    { timeout: 120_000 },
    async () => {
      const { out, video, audio } = await recordingPlace(`stall-${who}`);
      const sender = startHost([video], [audio]);
      try {
        let recorderPid = 0;
        const warnings: string[] = [];
        const dropped: string[] = [];
        const heldUpEvents: { fromMs: number; ms: number; withinMs: number }[] = [];
        const recording = runSyntheticRecording({
          spec: spec('host', 'h', out, decodingHost(video, audio)),
          durationSec: 22,
          onStarted: (i) => (recorderPid = i.pid),
          onEvent: (e) => {
            if (e.event === 'warning' && e.data.source === 'recorder')
              warnings.push(e.data.message);
            if (e.event === 'held-up') heldUpEvents.push(e.data);
            if (
              e.event === 'warning' &&
              e.data.source === 'audio' &&
              /dropped/.test(e.data.message)
            )
              dropped.push(e.data.message);
          },
        });
        await sleep(8_000);
        const stalledAtMs = Date.now();
        await stall(who === 'recorder' ? recorderPid : sender.pid!, 1_500);
        const { snippets } = await recording;
        snippets.sort((a, b) => a.seq - b.seq);
        // 5-s snippets: the stall is in the second; the third and fourth come after it.
        const offsets = await offsetsIn(snippets.slice(2, 4), 1_000);
        const before = (await measureAvSync(snippets[0]!.location)).offsetsMs;
        const last = await probeMedia(snippets.at(-1)!.location);
        console.log(
          `A/V offset (+ = sound late) before the stall ${before.map(Math.round).join(' ')} ms, after it ${offsets.map(Math.round).join(' ')} ms; last snippet: picture ${last.video?.durationSec} s, sound ${last.audio?.durationSec} s`,
        );
        // The picture at the stall itself may be anything; every edge after it has its tick.
        assert.ok(offsets.length >= 2, `edges after the stall: ${offsets.join(' ')}`);
        for (const o of offsets) assert.ok(Math.abs(o) <= 100, `sound off its picture by ${o} ms`);
        // A stalled recorder says so, with how long.
        const heldUp = warnings.map((w) =>
          Number(/held up for about ([\d.]+) s/.exec(w)?.[1] ?? NaN),
        );
        console.log(`the recorder's hold-ups: ${heldUp.join(' ') || 'none'} s`);
        // Sound the mixer dropped is said, in seconds; a recorder stalled past its mixer's wait
        // drops some of the host's sound as late.
        const droppedSec = dropped.map((w) => Number(/: ([\d.]+) s of its sound/.exec(w)?.[1]));
        console.log(`sound dropped as late: ${droppedSec.join(' ') || 'none'} s`);
        for (const sec of droppedSec) assert.ok(sec > 0 && sec <= 2, dropped.join('; '));
        if (who === 'recorder') assert.ok(droppedSec.length > 0, 'no sound dropped was said');
        if (who === 'recorder')
          assert.ok(
            heldUp.some((s) => s >= 1 && s <= 2.5),
            `the recorder's hold-up warnings: ${warnings.join('; ') || 'none'}`,
          );
        // And says when, for scoring: the stretch it tells, widened by its uncertainty, holds the
        // middle of the stall.
        if (who === 'recorder') {
          const middle = stalledAtMs + 750;
          assert.ok(
            heldUpEvents.some(
              (h) => h.fromMs - h.withinMs <= middle && middle <= h.fromMs + h.ms + h.withinMs,
            ),
            `stall from ${stalledAtMs}, hold-ups told: ${JSON.stringify(heldUpEvents)}`,
          );
        }
        // Sound put behind by the stall ran on past the picture at the stop.
        assert.ok(
          Math.abs(last.audio!.durationSec! - last.video!.durationSec!) < 0.4,
          `last snippet: picture ${last.video?.durationSec} s, sound ${last.audio?.durationSec} s`,
        );
      } finally {
        await stopTracked(sender);
      }
    },
  );

/**
 * Forwards RTP to `to`, its timestamps running `slowBy` slower than the packets come: a sender
 * whose sound card runs off the recorder's clock.
 */
async function driftingRelay(to: number, slowBy: number) {
  const socket = createSocket('udp4');
  let first: number | null = null;
  socket.on('message', (packet) => {
    const ts = packet.readUInt32BE(4);
    first ??= ts;
    const elapsed = (ts - first + 2 ** 32) % 2 ** 32;
    packet.writeUInt32BE((first + Math.round(elapsed * (1 - slowBy))) % 2 ** 32, 4);
    socket.send(packet, to, '127.0.0.1');
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => socket.close() };
}

/**
 * Holds the first `holdMs` of packets and then sends them in one burst, forwarding the rest as
 * they come: what a publisher does with the sound it captured while DTLS was being set up.
 */
async function burstRelay(to: number, holdMs: number) {
  const socket = createSocket('udp4');
  let held: Buffer[] | null = [];
  let timer: NodeJS.Timeout | undefined;
  socket.on('message', (packet) => {
    if (!held) return socket.send(packet, to, '127.0.0.1');
    held.push(Buffer.from(packet));
    timer ??= setTimeout(() => {
      for (const p of held ?? []) socket.send(p, to, '127.0.0.1');
      held = null;
    }, holdMs);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    close: () => {
      clearTimeout(timer);
      socket.close();
    },
  };
}

test(
  'a host whose first 0.8 s of sound comes in one burst: the recorder times its sound by the packets that came on time, and says so',
  { timeout: 90_000 },
  async () => {
    const { out, video, audio } = await recordingPlace('burst');
    const relay = await burstRelay(audio, 800);
    let sender: ReturnType<typeof startHost> | null = null;
    try {
      const events: WorkerEvent[] = [];
      const { snippets } = await runSyntheticRecording({
        spec: spec('host', 'h', out, decodingHost(video, audio)),
        durationSec: 17,
        // The host starts sending once the recording plays, as a host that joins does.
        onStarted: () => void (sender = startHost([video], [relay.port])),
        onEvent: (e) => events.push(e),
      });
      snippets.sort((a, b) => a.seq - b.seq);
      const offsets = await offsetsIn(snippets.slice(1, 3), 2_000);
      const told = events.flatMap((e) =>
        e.event === 'warning' && e.data.source === 'audio' ? [e.data.message] : [],
      );
      console.log(
        `A/V offset (+ = sound late) 5-15 s after a burst of 0.8 s: ${offsets.map(Math.round).join(' ')} ms; told: ${told.join('; ')}`,
      );
      assert.ok(offsets.length >= 3, `edges: ${offsets.join(' ')}`);
      for (const o of offsets) assert.ok(Math.abs(o) <= 100, `sound off its picture by ${o} ms`);
      assert.ok(
        told.some((m) => /timed \d+ ms late/.test(m)),
        `warnings: ${told.join('; ')}`,
      );
    } finally {
      relay.close();
      if (sender) await stopTracked(sender);
    }
  },
);

test(
  'a sender whose sound card runs 0.5 % slow: the recorder follows it, and its sound stays with its picture',
  { timeout: 150_000 },
  async () => {
    const { out, video, audio } = await recordingPlace('drift');
    const relay = await driftingRelay(audio, 0.005);
    const sender = startHost([video], [relay.port]);
    try {
      const events: WorkerEvent[] = [];
      const { snippets } = await runSyntheticRecording({
        spec: spec('host', 'h', out, decodingHost(video, audio)),
        durationSec: 52,
        onEvent: (e) => events.push(e),
      });
      snippets.sort((a, b) => a.seq - b.seq);
      const moves = events.flatMap((e) =>
        e.event === 'warning' && e.data.source === 'audio' && e.data.message.includes('drifted')
          ? [e.data.message]
          : [],
      );
      const offsets = async (from: number, to: number) => {
        const all: number[] = [];
        for (const s of snippets.slice(from, to))
          all.push(...(await measureAvSync(s.location)).offsetsMs);
        return all;
      };
      const start = await offsets(0, 2);
      const end = await offsets(8, 10);
      console.log(
        `drift guard: ${moves.join('; ') || 'no move'}; A/V offset (+ = sound late) over the first 10 s ${start.map(Math.round).join(' ')} ms, over the last 10 s ${end.map(Math.round).join(' ')} ms`,
      );
      // 5 ms a second: 250 ms in 50 s, the sound ever earlier. The guard moves it back by 50 ms
      // or so every 10 s after the first 20.
      assert.ok(moves.length >= 2, `moves: ${moves.join('; ')}`);
      // Each move puts the sound later, after the drift rather than in a jump: one window's
      // smallest lag can be off by a few packets against the first's (103 ms once, among moves of
      // 42 to 58 ms).
      for (const m of moves) {
        const ms = Number(/drifted (-?\d+) ms/.exec(m)?.[1]);
        assert.ok(ms >= 30 && ms <= 150, m);
      }
      const reference = Math.min(...start);
      assert.ok(end.length >= 2, `edges at the end: ${end.join(' ')}`);
      for (const o of end)
        assert.ok(
          Math.abs(o - reference) <= 100,
          `offset ${o} ms against ${reference} ms at the start`,
        );
    } finally {
      relay.close();
      await stopTracked(sender);
    }
  },
);

test(
  "the recorder says when a host's first sound came: at once from a sender already sending, 2 s in from one that starts 2 s late",
  { timeout: 90_000 },
  async () => {
    const afterSec = async (delayMs: number) => {
      const { out, video, audio } = await recordingPlace('sound-started');
      let sender = delayMs === 0 ? startHost([video], [audio]) : null;
      try {
        // Sending well before the recording starts.
        if (sender) await sleep(1_000);
        const started: { id: string; earliestNs: string; latestNs: string }[] = [];
        const host = decodingHost(video, audio);
        const recording = runSyntheticRecording({
          spec: spec('host', 'h', out, host),
          durationSec: 6,
          onEvent: (e) => {
            if (e.event === 'sound-started') started.push(e.data);
          },
        });
        if (delayMs > 0) {
          await sleep(delayMs);
          sender = startHost([video], [audio]);
        }
        await recording;
        assert.equal(started.length, 1, JSON.stringify(started));
        assert.equal(started[0]!.id, host.id);
        const { earliestNs, latestNs } = started[0]!;
        return { earliest: Number(earliestNs) / 1e9, latest: Number(latestNs) / 1e9 };
      } finally {
        if (sender) await stopTracked(sender);
      }
    };
    const atOnce = await afterSec(0);
    const late = await afterSec(2_000);
    const say = (r: { earliest: number; latest: number }) =>
      `${r.earliest.toFixed(2)}–${r.latest.toFixed(2)} s`;
    console.log(`first sound ${say(atOnce)} and ${say(late)} after the input joined`);
    assert.ok(atOnce.earliest <= atOnce.latest && late.earliest <= late.latest);
    assert.ok(atOnce.earliest < 0.5, `${say(atOnce)} from a sender already sending`);
    // The sender's own start (a gst-launch process) comes on top of the 2 s, less the recorder's.
    assert.ok(late.latest >= 1.5 && late.earliest < 4, `${say(late)} from a sender 2 s late`);
  },
);

test(
  'a recorder held up between binding its sockets and playing keeps the sound in step with the picture',
  { timeout: 90_000 },
  async () => {
    const { out, video, audio } = await recordingPlace('slow-start');
    // Sending before the recorder binds, as a host whose RTP is attached before its recording
    // starts; the worker, forked with this, then waits 0.7 s before it plays, as on a busy start.
    const sender = startHost([video], [audio]);
    process.env.TAPEDECK_TEST_HOLD_BEFORE_PLAYING_MS = '700';
    try {
      await sleep(1_000);
      const recording = runSyntheticRecording({
        spec: spec('host', 'h', out, decodingHost(video, audio)),
        durationSec: 12,
      });
      const { snippets } = await recording;
      snippets.sort((a, b) => a.seq - b.seq);
      const offsets = await offsetsIn(snippets.slice(0, 2), 2_000);
      const last = await probeMedia(snippets.at(-1)!.location);
      console.log(
        `A/V offset (+ = sound late) after a start held up 0.7 s: ${offsets.map(Math.round).join(' ')} ms; last snippet: picture ${last.video?.durationSec} s, sound ${last.audio?.durationSec} s`,
      );
      assert.ok(offsets.length >= 2, `edges: ${offsets.join(' ')}`);
      for (const o of offsets) assert.ok(Math.abs(o) <= 100, `sound off its picture by ${o} ms`);
      // Sound timed late runs on past the picture at the stop.
      assert.ok(
        last.audio!.durationSec! - last.video!.durationSec! < 0.3,
        `last snippet: picture ${last.video?.durationSec} s, sound ${last.audio?.durationSec} s`,
      );
    } finally {
      delete process.env.TAPEDECK_TEST_HOLD_BEFORE_PLAYING_MS;
      await stopTracked(sender);
    }
  },
);
