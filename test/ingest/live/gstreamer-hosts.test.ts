import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gridLayout } from '../../../src/domain/layout.ts';
import { DEFAULT_COMPOSITE_CANVAS } from '../../../src/domain/profile.ts';
import { decodeErrors, probeMedia } from '../../support/ffprobe.ts';
import { run } from '../../support/run.ts';
import { describe, snippetFiles, liveRigs, startPublisher, stopPublishers } from './harness.ts';

const { rig: liveRig, publishers } = liveRigs('live-gst');

/** Solid colours, so each tile can be told apart in the composite. */
const HOSTS = [
  { id: 'h1', pattern: 'red', rgb: [255, 0, 0] },
  { id: 'h2', pattern: 'green', rgb: [0, 255, 0] },
  { id: 'h3', pattern: 'blue', rgb: [0, 0, 255] },
  { id: 'h4', pattern: 'white', rgb: [255, 255, 255] },
] as const;
const PLACEHOLDER_GREY = [0x30, 0x30, 0x38];

/** Mean RGB of a rectangle of the frame at `atSec` of a file. */
async function meanRgb(
  file: string,
  atSec: number,
  r: { x: number; y: number; width: number; height: number },
): Promise<number[]> {
  // A margin inside the tile keeps scaled edges and the name label out of the mean.
  const inset = { x: r.x + 8, y: r.y + 40, w: r.width - 16, h: r.height - 48 };
  const { stdout } = await run('sh', [
    '-c',
    `ffmpeg -v error -ss ${atSec} -i ${file} -frames:v 1 -vf crop=${inset.w}:${inset.h}:${inset.x}:${inset.y},scale=8:8 -f rawvideo -pix_fmt rgb24 - | od -An -tu1 -v`,
  ]);
  const bytes = stdout.trim().split(/\s+/).map(Number);
  const sums = [0, 0, 0];
  for (let i = 0; i < bytes.length; i++) sums[i % 3]! += bytes[i]!;
  return sums.map((s) => s / (bytes.length / 3));
}

const distance = (a: readonly number[], b: readonly number[]) =>
  Math.hypot(...a.map((v, i) => v - b[i]!));

test(
  'four GStreamer hosts: composite and host recordings, camera toggles shown and announced within 2.5 s',
  { timeout: 180_000 },
  async () => {
    const rig = await liveRig();
    for (const [i, h] of HOSTS.entries())
      publishers.push(
        startPublisher(rig, h.id, ['--pattern', h.pattern, '--tone-hz', String(330 + 110 * i)]),
      );
    for (const h of HOSTS)
      await rig.waitFor((e) => e.event.hostId === h.id && e.event.type === 'joined', 20_000);
    const joinOrder = rig.events
      .filter((e) => e.event.type === 'joined')
      .map((e) => e.event.hostId);

    await sleep(8_000);
    const h2 = publishers[1]!;
    // The change happens when the publisher applies it, which it reports with its own clock.
    const applied = async (on: boolean) => {
      for (let i = 0; i < 100; i++) {
        const line = h2.lines.find((l) => l.event === 'camera' && l.on === on);
        if (line) return Math.round(Number(line.t) * 1000);
        await sleep(50);
      }
      throw new Error(`publisher never reported camera ${on ? 'on' : 'off'}`);
    };
    h2.send('camera off');
    const offAt = await applied(false);
    const off = await rig.waitFor(
      (e) => e.event.hostId === 'h2' && e.event.type === 'camera-off',
      10_000,
    );
    await sleep(5_000);
    h2.send('camera on');
    const onAt = await applied(true);
    const on = await rig.waitFor(
      (e) => e.event.hostId === 'h2' && e.event.type === 'camera-on',
      10_000,
    );
    // Long enough that every host recording has one full snippet and a last partial one.
    await sleep(10_000);

    await stopPublishers(publishers.splice(0), 'SIGTERM');
    for (const h of HOSTS)
      await rig.waitFor((e) => e.event.hostId === h.id && e.event.type === 'left', 15_000);
    await rig.close();

    assert.ok(
      off.event.at - offAt <= 2_500,
      `camera-off announced after ${off.event.at - offAt} ms`,
    );
    assert.ok(on.event.at - onAt <= 2_500, `camera-on announced after ${on.event.at - onAt} ms`);
    assert.equal(off.event.cause, 'media');

    // Every host has its own recording that plays, with video and audio.
    for (const h of HOSTS) {
      const files = await snippetFiles(rig, `host-${h.id}`);
      assert.ok(files.length >= 2, `${h.id}: ${files.length} snippets`);
      const info = await probeMedia(files[0]!);
      assert.equal(info.video?.width, 640);
      assert.equal(info.video?.height, 360);
      assert.ok((info.video?.frames ?? 0) >= 100, `${h.id}: ${info.video?.frames} frames`);
      assert.equal(info.audio?.codec, 'aac');
      assert.equal(await decodeErrors(files[0]!), '');
    }

    // The composite: each host's colour in the cell the layout gives it, and the placeholder in
    // h2's cell while its camera was off.
    const composite = await snippetFiles(rig, 'composite');
    assert.ok(composite.length >= 2, `composite: ${composite.length} snippets`);
    const first = composite[0]!;
    const info = await probeMedia(first);
    assert.equal(info.video?.width, 360);
    assert.equal(info.video?.height, 640);
    assert.equal(await decodeErrors(first), '');
    const cells = gridLayout(DEFAULT_COMPOSITE_CANVAS, 4).tiles;
    const firstSnippet = rig.recorder.composite!.snippets[0]!;
    const startMs = Number(BigInt(firstSnippet.startUtcNs) / 1_000_000n);
    /** The composite snippet and second in it that show the wall-clock instant ms. */
    const frameAt = (ms: number): { file: string; sec: number } => {
      const sec = (ms - startMs) / 1000;
      const file = composite[Math.floor(sec / 15)];
      assert.ok(file, `no composite snippet at ${sec} s`);
      return { file, sec: sec % 15 };
    };
    const tileRgb = (ms: number, cell: (typeof cells)[number]) => {
      const f = frameAt(ms);
      return meanRgb(f.file, f.sec, cell);
    };
    // Each tile is looked at 1 s before h2's camera goes off, 7 s after the last join, at an
    // instant when the events say that host's camera was on: a loaded machine can starve a
    // publisher for 2 s, which the ingest rightly reports as camera off.
    const allJoinedMs = Math.max(
      ...rig.events.filter((e) => e.event.type === 'joined').map((e) => e.event.at),
    );
    const cameraOnAt = (hostId: string): number => {
      const changes = rig.events.filter(
        (e) => e.event.hostId === hostId && e.event.type.startsWith('camera-'),
      );
      for (let t = offAt - 1_000; t > allJoinedMs; t -= 500) {
        const around = changes.filter((e) => Math.abs(e.event.at - t) <= 2_500);
        const last = changes.filter((e) => e.event.at <= t).at(-1);
        if (around.length === 0 && (!last || last.event.type === 'camera-on')) return t;
      }
      throw new Error(`${hostId} never had its camera on: ${describe(rig.events)}`);
    };
    const firstPicture: string[] = [];
    for (const h of HOSTS) {
      const cell = cells[joinOrder.indexOf(h.id)]!;
      const rgb = await tileRgb(cameraOnAt(h.id), cell);
      assert.ok(distance(rgb, h.rgb) < 60, `${h.id} cell shows ${rgb.map(Math.round)}`);
      // How long the tile took to show the camera after the join: a figure, not a limit.
      const joinedAt = rig.events.find((e) => e.event.hostId === h.id)!.event.at;
      let shownAt: number | undefined;
      for (let t = joinedAt; t < offAt && shownAt === undefined; t += 250)
        if (distance(await tileRgb(t, cell), h.rgb) < 60) shownAt = t;
      firstPicture.push(`${h.id} ${shownAt === undefined ? '-' : shownAt - joinedAt} ms`);
    }
    const h2Cell = cells[joinOrder.indexOf('h2')]!;
    const during = await tileRgb(offAt + 3_500, h2Cell);
    assert.ok(
      distance(during, PLACEHOLDER_GREY) < 30,
      `camera off shows ${during.map(Math.round)}`,
    );
    console.log(
      `events: ${describe(rig.events)}; camera-off after ${off.event.at - offAt} ms, on after ${on.event.at - onAt} ms; first picture after the join: ${firstPicture.join(', ')}`,
    );
  },
);
