import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { gridLayout } from '../../src/domain/layout.ts';
import { names } from '../../src/media/pipeline/encoders.ts';
import type { InputSpec, RecordingSpec } from '../../src/media/pipeline/spec.ts';
import {
  runSyntheticRecording,
  type DeliveredSnippet,
} from '../../src/media/synthetic-recording.ts';
import type { WorkerEvent } from '../../src/media/worker/protocol.ts';
import { freeTcpPort as tcpPort, freeUdpPort as udpPort } from '../../src/support/free-port.ts';
import { measureAvSync } from '../support/av-sync.ts';
import { stopTracked } from '../support/children.ts';
import { videoFrameTimes } from '../support/ffprobe.ts';
import { firstLinesOf, gstLogForChildrenSpawnedWithin } from '../support/gst-log.ts';
import { colourDistance, meanColour, PLACEHOLDER_GREY } from '../support/mean-colour.ts';
import {
  assertContinuous,
  decodingHost,
  SAME_PICTURE_TIMING_MS,
  servingHost,
  sharedHost,
  spec,
  startHost,
} from '../support/shared-picture.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A composite as a node that serves tiles starts it: it waits for shared pictures from the start. */
function tiledComposite(id: string, out: string, input: InputSpec): RecordingSpec {
  return { ...spec('composite', id, out, input), sharedPictures: true };
}

/** A folder and the ports of one host recorded on its own and in a tiled composite. */
async function oneHostPorts(name: string) {
  const out = await tempDir(name);
  dirs.push(out);
  const [hostVideo, hostAudio, compositeAudio] = await Promise.all([
    udpPort(),
    udpPort(),
    udpPort(),
  ]);
  return { out, hostVideo, hostAudio, compositeAudio, tilePort: await tcpPort() };
}

/** The mean colour of a cell at a wall-clock time, in whichever snippet holds it. */
async function colourAt(
  snippets: readonly DeliveredSnippet[],
  utcMs: number,
  cell: { x: number; y: number; width: number; height: number },
) {
  const ns = BigInt(Math.round(utcMs)) * 1_000_000n;
  const s = snippets.find((x) => BigInt(x.startUtcNs) <= ns && ns < BigInt(x.endUtcNs));
  assert.ok(s, `no snippet holds ${new Date(utcMs).toISOString()}`);
  return meanColour(s.location, Number(ns - BigInt(s.startUtcNs)) / 1e9, cell);
}

/** Where the composite shows its one host: the cell's middle, at the camera's aspect. */
const cellOf = (out: string) =>
  gridLayout(spec('composite', 'c', out, sharedHost(0, 0)).profile.video, 1).tiles[0]!;

test(
  "a host's recording serves the composite its picture as a tile, in step with the sound",
  { timeout: 180_000 },
  async (t) => {
    const out = await tempDir('host-tiles');
    dirs.push(out);
    const ports = await Promise.all([udpPort(), udpPort(), udpPort(), udpPort(), udpPort()]);
    const [hostVideo, hostAudio, compositeAudio, ownVideo, ownAudio] = ports;
    const tilePort = await tcpPort();
    const sender = startHost([hostVideo, ownVideo], [hostAudio, compositeAudio, ownAudio]);
    // How the host recording's mixer and encoder timed its first frames: read if one is missing.
    const hostLog = join(out, 'host-gst.log');
    gstLogForChildrenSpawnedWithin(hostLog, 'videoaggregator:5,videorate:5', 1000);
    try {
      const events: (WorkerEvent & { from?: string })[] = [];
      const [host, composite, own] = await Promise.all([
        runSyntheticRecording({
          spec: spec('host', 'host', out, servingHost(hostVideo, hostAudio, tilePort)),
          durationSec: 22,
          onEvent: (e) => events.push({ ...e, from: 'host' }),
        }),
        // Started once the host's recording serves, as a composite on a node usually is not; the
        // test that follows covers a tile that comes late.
        sleep(2000).then(() =>
          runSyntheticRecording({
            spec: tiledComposite('composite', out, sharedHost(tilePort, compositeAudio)),
            durationSec: 20,
            onEvent: (e) => events.push({ ...e, from: 'composite' }),
          }),
        ),
        // The same host decoded by the composite itself, as on a node without tiles.
        sleep(2000).then(() =>
          runSyntheticRecording({
            spec: spec('composite', 'own', out, decodingHost(ownVideo, ownAudio)),
            durationSec: 20,
          }),
        ),
      ]);
      const trouble = events.filter(
        (e) =>
          ['error', 'input-lost', 'input-restored'].includes(e.event) ||
          (e.event === 'warning' && e.data.source === 'tiles'),
      );
      assert.deepEqual(trouble, [], JSON.stringify(trouble));
      const warnings = events.filter((e) => e.event === 'warning');
      if (warnings.length) t.diagnostic(`warnings: ${JSON.stringify(warnings)}`);
      for (const snippets of [host.snippets, composite.snippets]) {
        assert.ok(snippets.length >= 4, `${snippets.length} snippets`);
        await assertContinuous(snippets).catch(async (error: Error) => {
          const first = (await videoFrameTimes(snippets[0]!.location)).slice(0, 8);
          const trace = await firstLinesOf(hostLog, [names.videoMixer, names.videoRate], 80);
          t.diagnostic(`host recording's start:\n${trace}`);
          throw new Error(`${error.message}; first frames at ${first.join(' ')} s`);
        });
      }
      const cell = cellOf(out);
      const offsetsOf = async (snippets: DeliveredSnippet[], crop?: typeof cell) => {
        const all: number[] = [];
        for (const s of snippets.slice(1, -1))
          all.push(...(await measureAvSync(s.location, crop ? { crop } : {})).offsetsMs);
        return all;
      };
      const [tiled, ownOffsets, hostOffsets] = [
        await offsetsOf(composite.snippets, cell),
        await offsetsOf(own.snippets, cell),
        await offsetsOf(host.snippets),
      ];
      const show = (o: number[]) => o.map((x) => x.toFixed(0)).join(' ');
      t.diagnostic(
        `A/V offsets (ms, + = sound late): composite from tiles ${show(tiled)}; composite ` +
          `decoding itself ${show(ownOffsets)}; the serving host recording ${show(hostOffsets)}`,
      );
      assert.ok(tiled.length >= 3 && ownOffsets.length >= 3, 'sync marks in both composites');
      const mean = (o: number[]) => o.reduce((a, b) => a + b, 0) / o.length;
      // Each recording puts the frames on its own frame instants, the nearest one to each (see
      // the shared-decode test): two composites started apart land within a frame of each other,
      // and within a run the offset holds still.
      assert.ok(Math.max(...tiled) - Math.min(...tiled) <= 10, `steady: ${show(tiled)}`);
      assert.ok(
        Math.abs(mean(tiled) - mean(ownOffsets)) <= SAME_PICTURE_TIMING_MS,
        `tiles ${show(tiled)} against own decode ${show(ownOffsets)}`,
      );
      // Serving leaves the host's own recording's timing as steady as ever.
      assert.ok(
        hostOffsets.length >= 3 && Math.max(...hostOffsets) - Math.min(...hostOffsets) <= 10,
        `the host's recording: ${show(hostOffsets)}`,
      );
      const shown = await meanColour(composite.snippets[1]!.location, 1, cell);
      assert.ok(
        colourDistance(shown, PLACEHOLDER_GREY) > 40,
        `the composite's cell shows ${shown.map(Math.round)}`,
      );
    } finally {
      await stopTracked(sender, 'SIGKILL');
    }
  },
);

test(
  "a tile port still taken costs the composite the host's picture until it is free, never the recording",
  { timeout: 180_000 },
  async () => {
    const { out, hostVideo, hostAudio, compositeAudio, tilePort } =
      await oneHostPorts('host-tiles-busy');
    // What a recording of the host that has not stopped yet looks like: the port is held.
    const holder = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => holder.listen(tilePort, '127.0.0.1', resolve));
    const release = setTimeout(() => holder.close(), 5000);
    const sender = startHost([hostVideo], [hostAudio, compositeAudio]);
    try {
      const hostEvents: WorkerEvent[] = [];
      const compositeEvents: WorkerEvent[] = [];
      const [host, composite] = await Promise.all([
        runSyntheticRecording({
          spec: spec('host', 'host', out, servingHost(hostVideo, hostAudio, tilePort)),
          durationSec: 16,
          onEvent: (e) => hostEvents.push(e),
        }),
        runSyntheticRecording({
          spec: tiledComposite('composite', out, sharedHost(tilePort, compositeAudio)),
          durationSec: 16,
          onEvent: (e) => compositeEvents.push(e),
        }),
      ]);
      for (const events of [hostEvents, compositeEvents])
        assert.deepEqual(
          events.filter((e) => e.event === 'error'),
          [],
        );
      const tileWarnings = hostEvents
        .filter((e) => e.event === 'warning' && e.data.source === 'tiles')
        .map((e) => (e.event === 'warning' ? e.data.message : ''));
      assert.equal(tileWarnings.length, 2, tileWarnings.join('\n'));
      assert.match(
        tileWarnings[0]!,
        /cannot serve on 127\.0\.0\.1:\d+ \(.*\); the recording goes on/,
      );
      assert.match(tileWarnings[1]!, /again/);
      // The host's own recording never noticed.
      assert.ok(host.snippets.length >= 3, `${host.snippets.length} snippets`);
      await assertContinuous(host.snippets);
      // The composite showed the placeholder while the port was taken, then the host.
      assert.ok(composite.snippets.length >= 3);
      await assertContinuous(composite.snippets);
      const cell = cellOf(out);
      const early = await meanColour(composite.snippets[0]!.location, 2, cell);
      assert.ok(
        colourDistance(early, PLACEHOLDER_GREY) < 40,
        `while the port is taken: ${early.map(Math.round)}`,
      );
      const late = await meanColour(composite.snippets.at(-2)!.location, 4, cell);
      assert.ok(colourDistance(late, PLACEHOLDER_GREY) > 40, `at the end: ${late.map(Math.round)}`);
      // The composite told the stretch its canvas stood still for want of the host's picture, as
      // a hold-up of the picture alone, and the canvas changes where it says.
      const held = compositeEvents.flatMap((e) => (e.event === 'held-up' ? [e.data] : []));
      const still = held.filter((h) => h.media === 'picture');
      assert.equal(still.length, 1, JSON.stringify(held));
      const { fromMs, ms, withinMs } = still[0]!;
      const startMs = Number(BigInt(composite.snippets[0]!.startUtcNs) / 1_000_000n);
      assert.ok(
        Math.abs(fromMs - startMs) < 1_000,
        `from ${fromMs - startMs} ms into the recording`,
      );
      assert.ok(ms >= 4_000, `${ms} ms, with the port taken for 5 s`);
      console.log(`the canvas stood still for want of the picture ${ms} ms (± ${withinMs} ms)`);
      const margin = withinMs + 300;
      const before = await colourAt(composite.snippets, fromMs + ms - margin, cell);
      assert.ok(
        colourDistance(before, PLACEHOLDER_GREY) < 40,
        `before its end: ${before.map(Math.round)}`,
      );
      const after = await colourAt(composite.snippets, fromMs + ms + margin, cell);
      assert.ok(
        colourDistance(after, PLACEHOLDER_GREY) > 40,
        `after its end: ${after.map(Math.round)}`,
      );
    } finally {
      clearTimeout(release);
      holder.close();
      await stopTracked(sender, 'SIGKILL');
    }
  },
);

test(
  "a composite that ends 1.5 s after the host's recording that serves its tile holds the host's last picture to its end",
  { timeout: 120_000 },
  async () => {
    const { out, hostVideo, hostAudio, compositeAudio, tilePort } =
      await oneHostPorts('host-tiles-end');
    const sender = startHost([hostVideo], [hostAudio, compositeAudio]);
    try {
      const compositeEvents: WorkerEvent[] = [];
      // A livestream's stop reaches its recordings one by one; a host's may end first.
      const [, composite] = await Promise.all([
        runSyntheticRecording({
          spec: spec('host', 'host', out, servingHost(hostVideo, hostAudio, tilePort)),
          durationSec: 12,
        }),
        runSyntheticRecording({
          spec: tiledComposite('composite', out, sharedHost(tilePort, compositeAudio)),
          durationSec: 13.5,
          onEvent: (e) => compositeEvents.push(e),
        }),
      ]);
      const last = composite.snippets.at(-1)!;
      const cell = cellOf(out);
      const end = last.durationSec - 0.3;
      const shown = await meanColour(last.location, end, cell);
      assert.ok(
        colourDistance(shown, PLACEHOLDER_GREY) > 40,
        `${end.toFixed(1)} s into the last snippet: ${shown.map(Math.round)}`,
      );
      // Before, the first look (every second) after the tile's end took the picture off.
      assert.deepEqual(
        compositeEvents.filter((e) => e.event === 'error' || e.event === 'input-lost'),
        [],
      );
    } finally {
      await stopTracked(sender, 'SIGKILL');
    }
  },
);
