import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gridLayout } from '../../../src/domain/layout.ts';
import { DEFAULT_COMPOSITE_CANVAS } from '../../../src/domain/profile.ts';
import {
  launchChromium,
  type ChromiumPublisherBrowser,
} from '../../../src/ingest/publisher/chromium-publisher.ts';
import { probeMedia } from '../../support/ffprobe.ts';
import { privateNetworkOnly } from '../../support/netns.ts';
import { run } from '../../support/run.ts';
import { tempDir } from '../../support/tapedeck.ts';
import { describe, snippetFiles, startLiveRig, type LiveRig } from './harness.ts';

const dirs: string[] = [];
const browsers: ChromiumPublisherBrowser[] = [];
const rigs: LiveRig[] = [];
// Also after a timeout, when the test body may still be waiting: nothing may outlive the file.
after(async () => {
  await Promise.allSettled(browsers.splice(0).map((b) => b.close()));
  await Promise.allSettled(rigs.splice(0).map((r) => r.close()));
  if (process.env.TAPEDECK_TEST_KEEP) console.log(`kept: ${dirs.join(' ')}`);
  else await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

type Rect = { x: number; y: number; width: number; height: number };

/** Mean U and V (chroma) over the inside of a rectangle of the frame at `atSec`. */
async function meanChroma(file: string, atSec: number, r: Rect): Promise<{ u: number; v: number }> {
  const plane = async (name: 'u' | 'v'): Promise<number> => {
    const { stdout } = await run('sh', [
      '-c',
      `ffmpeg -v error -ss ${atSec} -i ${file} -frames:v 1 -vf crop=${r.width - 16}:${r.height - 16}:${r.x + 8}:${r.y + 8},scale=8:8,format=yuv444p,extractplanes=${name} -f rawvideo -pix_fmt gray - | od -An -tu1 -v`,
    ]);
    const bytes = stdout.trim().split(/\s+/).map(Number);
    return bytes.reduce((a, b) => a + b, 0) / bytes.length;
  };
  return { u: await plane('u'), v: await plane('v') };
}

// Each browser's fake camera plays its own colour, so a tile tells whose camera it shows.
// BT.601 chroma of the colours (ffmpeg's named colours, limited range).
const CAMERA_COLOURS: Record<string, { name: string; u: number; v: number }> = {
  c1: { name: 'red', u: 90, v: 240 },
  c2: { name: 'lime', u: 54, v: 34 },
  c3: { name: 'blue', u: 240, v: 110 },
  c4: { name: 'yellow', u: 16, v: 146 },
};

function nearestHost(c: { u: number; v: number }): string {
  const distance = ([, k]: [string, { u: number; v: number }]) => Math.hypot(k.u - c.u, k.v - c.v);
  return Object.entries(CAMERA_COLOURS).sort((a, b) => distance(a) - distance(b))[0]![0];
}

async function colourCamera(dir: string, hostId: string): Promise<string> {
  const file = join(dir, `${hostId}.y4m`);
  const colour = CAMERA_COLOURS[hostId]!.name;
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', `color=c=${colour}:s=640x360:r=15`],
    ...['-t', '1', '-pix_fmt', 'yuv420p', file],
  ]);
  return file;
}

const skip = privateNetworkOnly();
if (skip) console.log(`skipping Chromium hosts: ${skip}`);

test(
  'four Chromium hosts publish over WHIP: a composite with a tile per host and four host recordings that play',
  { timeout: 240_000, skip },
  async () => {
    const dir = await tempDir('live-chromium-');
    dirs.push(dir);
    const r = await startLiveRig(dir);
    rigs.push(r);
    const hosts = ['c1', 'c2', 'c3', 'c4'];
    // One browser per host, as in a real show: pages of one browser in the background are
    // throttled until their media stops.
    const published = [];
    for (const id of hosts) {
      const browser = await launchChromium({
        extraArgs: [`--use-file-for-fake-video-capture=${await colourCamera(dir, id)}`],
      });
      browsers.push(browser);
      published.push(
        await browser.publish({
          whipUrl: r.whipUrl(id),
          token: r.token(id),
          name: id,
          videoCodec: 'H264',
          fps: 15,
          maxKbps: 1500,
        }),
      );
    }
    for (const id of hosts)
      await r.waitFor((e) => e.event.hostId === id && e.event.type === 'joined', 20_000);
    const joinOrder = r.events.filter((e) => e.event.type === 'joined').map((e) => e.event.hostId);
    await sleep(20_000);
    // Each host leaves the way a browser does when its user ends the show: DELETE on the session.
    await Promise.all(published.map((h) => h.unpublish()));
    for (const id of hosts)
      await r.waitFor((e) => e.event.hostId === id && e.event.type === 'left', 15_000);
    await Promise.all(browsers.splice(0).map((b) => b.close()));
    await r.close();
    rigs.splice(0);

    const dropped = r.events.filter((e) => e.event.type === 'camera-off');
    assert.equal(dropped.length, 0, describe(r.events));
    // Chromium's H.264 keyframes come aggregated (STAP-A) or fragmented (FU-A): each host's
    // first picture is found, once, after its join.
    for (const id of hosts) {
      const mine = r.events.filter((e) => e.event.hostId === id).map((e) => e.event.type);
      assert.equal(mine.filter((t) => t === 'video-started').length, 1, describe(r.events));
      assert.ok(mine.indexOf('video-started') > mine.indexOf('joined'), describe(r.events));
    }
    for (const id of hosts) {
      const files = await snippetFiles(r, `host-${id}`);
      assert.ok(files.length >= 1, `${id}: ${files.length} snippets`);
      const info = await probeMedia(files[0]!);
      assert.equal(info.video?.width, 640);
      assert.equal(info.video?.height, 360);
      assert.ok((info.video?.frames ?? 0) >= 150, `${id}: ${info.video?.frames} frames`);
      assert.ok((info.audio?.durationSec ?? 0) >= 10, `${id}: audio ${info.audio?.durationSec} s`);
    }
    // Each tile of the 4-host layout shows the camera of the host the layout puts there (in join
    // order), 5 s after the last host joined: browsers start slowly on a loaded machine, so when
    // that is follows from the events and the first snippet's start.
    const composite = await snippetFiles(r, 'composite');
    assert.ok(composite.length >= 2, `composite: ${composite.length} snippets`);
    const allJoinedMs = Math.max(
      ...r.events.filter((e) => e.event.type === 'joined').map((e) => e.event.at),
    );
    const startMs = Number(BigInt(r.recorder.composite!.snippets[0]!.startUtcNs) / 1_000_000n);
    const atSec = (allJoinedMs + 5_000 - startMs) / 1000;
    const file = composite[Math.floor(atSec / 15)];
    assert.ok(file, `no composite snippet at ${atSec} s: ${composite.length} snippets`);
    const tiles = gridLayout(DEFAULT_COMPOSITE_CANVAS, 4).tiles;
    for (const [i, id] of joinOrder.entries()) {
      const chroma = await meanChroma(file, atSec % 15, tiles[i]!);
      const shown = nearestHost(chroma);
      assert.equal(shown, id, `tile ${i} shows ${shown}'s colour (${JSON.stringify(chroma)})`);
    }
    console.log(`chromium hosts: ${describe(r.events)}; tiles looked at ${atSec.toFixed(1)} s in`);
  },
);
