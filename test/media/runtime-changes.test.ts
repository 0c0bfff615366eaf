import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { defaultProfile } from '../../src/domain/profile.ts';
import { MediaWorker } from '../../src/media/media-worker.ts';
import { placeInputs } from '../../src/media/pipeline/build.ts';
import type { RecordingSpec } from '../../src/media/pipeline/spec.ts';
import { syntheticHost } from '../../src/media/synthetic-recording.ts';
import type { SnippetClosed, WorkerEvent } from '../../src/media/worker/protocol.ts';
import { measureAvSync } from '../support/av-sync.ts';
import { decodeErrors, largestFrameGap, probeMedia } from '../support/ffprobe.ts';
import { colourDistance, meanColour, PLACEHOLDER_GREY } from '../support/mean-colour.ts';
import { tempDir } from '../support/tapedeck.ts';

const FRAME = 1 / 15;
/** Other hosts stay silent so the sync host's ticks stand out in the mix. */
const quiet = (n: number) => {
  const host = syntheticHost(n);
  return { ...host, source: { ...host.source, toneHz: 0 } };
};
/** Inside host 1's tile both with 3 inputs (360x202 at the top) and with 4 (284x160 at the top). */
const SYNC_TILE = { x: 40, y: 6, width: 280, height: 150 };
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test(
  'inputs join and leave and cameras toggle mid-recording: exact snippets, continuous time, A/V in sync',
  { timeout: 240_000 },
  async () => {
    const out = await tempDir('changes');
    dirs.push(out);
    const spec: RecordingSpec = {
      kind: 'composite',
      recordingId: 'changes',
      outDir: out,
      profile: defaultProfile({ width: 360, height: 640 }),
      // Host 1 flashes and ticks together, so the composite's A/V sync can be measured throughout.
      inputs: [syntheticHost(1, 'sync'), quiet(2), quiet(3)],
    };
    const worker = new MediaWorker();
    const events: WorkerEvent[] = [];
    const snippets: SnippetClosed[] = [];
    worker.on('event', (e) => events.push(e));
    worker.on('snippet', (s) => snippets.push(s));
    try {
      await worker.start(spec);
      const t0 = Date.now();
      const at = async (sec: number, change: () => Promise<unknown>) => {
        await sleep(Math.max(0, t0 + sec * 1000 - Date.now()));
        await change();
      };
      await at(3, () => worker.addInput(quiet(4)));
      await at(7, () => worker.setCamera('h2', false));
      await at(12, () => worker.setCamera('h2', true));
      await at(17, () => worker.removeInput('h3'));
      await at(21, () => worker.addInput(quiet(5)));
      await at(25, () => worker.setLayout(['h1', 'h5', 'h4', 'h2']));
      await at(28, () => worker.setCamera('h4', false));
      await at(33, () => worker.stop());
    } finally {
      await worker.close();
    }
    assert.deepEqual(
      events.filter((e) => e.event === 'error' || e.event === 'warning'),
      [],
    );
    assert.ok(snippets.length >= 3, `${snippets.length} snippets`);
    for (const [i, s] of snippets.entries()) {
      const file = s.location;
      assert.equal(await decodeErrors(file), '', `${file} decodes`);
      if (i > 0)
        assert.equal(
          s.startRunningTimeNs,
          snippets[i - 1]!.endRunningTimeNs,
          'no gap between snippets',
        );
      const { gapSec } = await largestFrameGap(file);
      assert.ok(gapSec < 1.5 * FRAME, `${file}: largest frame gap ${gapSec} s`);
      if (i < snippets.length - 1) {
        const info = await probeMedia(file);
        assert.ok(
          Math.abs(info.video!.durationSec - 15) <= FRAME + 1e-3,
          `${file}: ${info.video!.durationSec} s`,
        );
        const sync = await measureAvSync(file, { crop: SYNC_TILE });
        console.log(
          `# ${basename(file)}: A/V offsets (ms, + = sound late) ${sync.offsetsMs.map(Math.round).join(' ')}`,
        );
        assert.ok(sync.offsetsMs.length >= 3, `${file}: ${sync.offsetsMs.length} sync marks`);
        assert.ok(sync.maxAbsOffsetMs <= 40, `${file}: A/V offset up to ${sync.maxAbsOffsetMs} ms`);
      }
    }
    // Host 2's cell shows the placeholder while its camera is off (7-12 s) and its picture before.
    const fourUp = placeInputs(
      spec,
      [1, 2, 3, 4].map((n) => syntheticHost(n)),
    );
    const cell = fourUp[1]!.video;
    const first = snippets[0]!.location;
    const during = await meanColour(first, 9.5, cell);
    const before = await meanColour(first, 5.5, cell);
    assert.ok(
      colourDistance(during, PLACEHOLDER_GREY) < 25,
      `camera off shows ${during.map(Math.round)}`,
    );
    assert.ok(
      colourDistance(before, PLACEHOLDER_GREY) > 40,
      `camera on shows ${before.map(Math.round)}`,
    );
  },
);
