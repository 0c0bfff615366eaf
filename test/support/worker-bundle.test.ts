import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decoderEntry } from '../../src/media/decoder-entry.ts';
import { MediaWorker } from '../../src/media/media-worker.ts';
import { mediaWorkerEntry } from '../../src/media/worker-entry.ts';

test(
  'the media processes start from CommonJS bundles, not from the sources through tsx',
  { timeout: 60_000 },
  async () => {
    for (const entry of [mediaWorkerEntry({}), decoderEntry({})]) {
      // A bundle that failed to build falls back to tsx with a warning: slower, and silent here.
      assert.match(entry.file, /\/node_modules\/\.cache\/tapedeck\/.+\/main-[0-9a-f]{16}\.cjs$/);
      assert.ok(!entry.execArgv.includes('--import'), entry.execArgv.join(' '));
      assert.match(readFileSync(entry.file, 'utf8'), /\brequire\("node:child_process"\)/);
    }
    // Ready means node-gtk was found from the bundle's own place and GStreamer loaded.
    const worker = new MediaWorker({ stderr: 'pipe' });
    try {
      await worker.ready;
      assert.match(readFileSync(`/proc/${worker.pid}/cmdline`, 'utf8'), /main-[0-9a-f]{16}\.cjs/);
    } finally {
      await worker.close(5_000);
    }
  },
);
