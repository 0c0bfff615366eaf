import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { checkSnippet } from '../../src/delivery/check/snippet-check.ts';
import { defaultProfile } from '../../src/domain/profile.ts';
import { MediaWorker } from '../../src/media/media-worker.ts';
import type { RecordingSpec } from '../../src/media/pipeline/spec.ts';
import { syntheticHost } from '../../src/media/synthetic-recording.ts';
import type { SnippetClosed } from '../../src/media/worker/protocol.ts';
import { LiveRecording } from '../../src/recorder/live-recording.ts';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

for (const kind of ['composite', 'audio'] as const) {
  test(
    `kill -9 of the ${kind} media worker leaves only playable files`,
    { timeout: 120_000 },
    async () => {
      const out = await tempDir(`kill-${kind}`);
      dirs.push(out);
      const spec: RecordingSpec = {
        kind,
        recordingId: 'killed',
        outDir: out,
        profile: { ...defaultProfile({ width: 360, height: 640 }), snippetSeconds: 6 },
        inputs: kind === 'composite' ? [syntheticHost(1), syntheticHost(2)] : [syntheticHost(1)],
      };
      const worker = new MediaWorker();
      const closed: SnippetClosed[] = [];
      worker.on('snippet', (s) => closed.push(s));
      const died = new Promise<string>((resolve) =>
        worker.once('died', ({ signal }) => resolve(String(signal))),
      );
      await worker.start(spec);
      while (closed.length < 1) await sleep(100);
      // Well into the second snippet, past several index rewrites.
      await sleep(4500);
      process.kill(worker.pid!, 'SIGKILL');
      assert.equal(await died, 'SIGKILL');
      const files = (await readdir(out)).filter((f) => !f.startsWith('.')).sort();
      assert.equal(files.length, 2, files.join(', '));
      const cut = `${out}/${files[1]}`;
      assert.notEqual(cut, closed[0]!.location);
      const info = await probeMedia(cut);
      // The file plays up to its last index update (at most a second or so before the kill).
      assert.ok(info.durationSec >= 2.5, `killed snippet plays ${info.durationSec} s`);
      assert.equal(await decodeErrors(cut), '', 'killed snippet decodes without errors');
      // Delivery's own check agrees: the cut file is usable, and as long as ffprobe says.
      const check = await checkSnippet(cut, kind === 'audio' ? 'mp3' : 'mp4');
      assert.notEqual(check.status, 'invalid', JSON.stringify(check));
      if (check.status !== 'invalid')
        assert.ok(
          Math.abs(check.durationMs / 1000 - info.durationSec) < 0.1,
          JSON.stringify(check),
        );
      assert.equal(await decodeErrors(closed[0]!.location), '');
    },
  );
}

test(
  'a live recording whose media worker was killed still stops, without an error',
  { timeout: 60_000 },
  async () => {
    const out = await tempDir('kill-live');
    dirs.push(out);
    const rec = await LiveRecording.start({
      livestreamId: 'killed',
      outDir: out,
      spec: {
        kind: 'audio',
        recordingId: 'killed',
        profile: { ...defaultProfile({ width: 360, height: 640 }), snippetSeconds: 6 },
        inputs: [syntheticHost(1)],
      },
    });
    const died = new Promise((resolve) => rec.worker.once('died', resolve));
    await sleep(1000);
    process.kill(rec.worker.pid!, 'SIGKILL');
    await died;
    // Stopping a recording whose worker died is what a node does next; it used to reject, and
    // unawaited, that rejection ended the node's worker process with every recording in it.
    assert.deepEqual(await rec.stop(), rec.snippets);
  },
);
