import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { defaultProfile } from '../../src/domain/profile.ts';
import { MediaWorker } from '../../src/media/media-worker.ts';
import type { RecordingSpec } from '../../src/media/pipeline/spec.ts';
import { syntheticHost } from '../../src/media/synthetic-recording.ts';
import type { SnippetClosed, WorkerEvent } from '../../src/media/worker/protocol.ts';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { runOk } from '../support/run.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** How many different pictures a file's frames show. */
async function distinctFrames(file: string): Promise<number> {
  const { stdout } = await runOk('ffmpeg', [
    '-v',
    'error',
    '-i',
    file,
    '-an',
    '-f',
    'framemd5',
    '-',
  ]);
  const hashes = stdout
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').pop()!.trim());
  return new Set(hashes).size;
}

test(
  "an input whose camera's stream fails is attached again, and the recording shows its moving picture after it",
  { timeout: 120_000 },
  async () => {
    const out = await tempDir('input-restart');
    dirs.push(out);
    const spec: RecordingSpec = {
      kind: 'host',
      recordingId: 'restart',
      outDir: out,
      profile: { ...defaultProfile({ width: 640, height: 360 }), snippetSeconds: 3 },
      inputs: [syntheticHost(1)],
    };
    // The camera fails after 2 s of frames (30 at 15 fps), once.
    process.env.TAPEDECK_FAULT_INPUT_ERROR = 'h1:30';
    const worker = new MediaWorker();
    delete process.env.TAPEDECK_FAULT_INPUT_ERROR;
    const events: WorkerEvent[] = [];
    const closed: SnippetClosed[] = [];
    worker.on('event', (e: WorkerEvent) => events.push(e));
    worker.on('snippet', (s: SnippetClosed) => closed.push(s));
    try {
      await worker.start(spec);
      while (closed.length < 3) await sleep(100);
      await worker.stop(15_000);
    } finally {
      await worker.close();
    }
    const said = events.filter((e) => e.event === 'warning' || e.event === 'error');
    for (const e of said) console.log(`${e.event}: ${JSON.stringify(e.data)}`);
    const restarts = said.filter(
      (e) => e.event === 'warning' && /attaching input h1 again/.test(e.data.message),
    );
    assert.equal(restarts.length, 1, 'one failure, one restart');
    assert.equal(
      said.filter((e) => e.event === 'error').length,
      0,
      'the failure is handled, not reported as an error of the recording',
    );

    const files = (await readdir(out)).filter((f) => f.endsWith('.mp4')).sort();
    assert.ok(files.length >= 4, files.join(', '));
    // Whole snippets after the first are exact and play; the picture moves in every one of them
    // after the restart (a stopped camera leaves the mixer repeating its last frame).
    for (const f of files.slice(1, -1)) {
      const file = join(out, f);
      const info = await probeMedia(file);
      assert.ok(Math.abs(info.durationSec - 3) < 0.07, `${f}: ${info.durationSec} s`);
      assert.equal(await decodeErrors(file), '', f);
      const pictures = await distinctFrames(file);
      console.log(`${f}: ${pictures} different pictures`);
      assert.ok(pictures > 20, `${f}: only ${pictures} different pictures`);
    }
  },
);
