import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PICTURE_PIXELS } from '../../src/domain/picture-stats.ts';
import { CapturedPictures } from '../../src/media/worker/captured-pictures.ts';
import type { GstAppSink, GstModule } from '../../src/media/worker/gst.ts';

const T = { timeout: 10_000 };
const SEC = 1_000_000_000n;

/**
 * The worker's side of the pictures, without GStreamer: samples that give running times, and a
 * file a picture as multifilesink writes them.
 */
async function setup(count: number, level: (n: number) => number) {
  const dir = await mkdtemp(join(tmpdir(), 'tapedeck-test-pictures-'));
  for (let n = 0; n < count; n++)
    await writeFile(
      join(dir, `${String(n).padStart(6, '0')}.gray`),
      Buffer.alloc(PICTURE_PIXELS, level(n)),
    );
  let next = 0;
  const sink = {
    tryPullSample: () => {
      if (next >= count) return null;
      const pts = (BigInt(next++) * SEC) / 2n;
      return { getBuffer: () => ({ pts }), getSegment: () => ({ toRunningTime: () => pts }) };
    },
  } as unknown as GstAppSink;
  const Gst = { Format: { TIME: 3 } } as unknown as GstModule;
  return { dir, pictures: new CapturedPictures(Gst, sink, dir) };
}

test(
  'each snippet gets its own pictures, each with its change from the one before',
  T,
  async () => {
    // Picture n has every pixel at n % 200: its mean says which one was read.
    const { dir, pictures } = await setup(250, (n) => n % 200);
    try {
      for (let s = 0; s < 8; s++) {
        const windows = pictures.windows(BigInt(s) * 15n * SEC, BigInt(s + 1) * 15n * SEC);
        assert.equal(windows?.length, 30, `snippet ${s}`);
        windows!.forEach((w, i) => {
          const n = s * 30 + i;
          assert.equal(w.atSec, i / 2);
          assert.equal(w.lumaMean, n % 200, `snippet ${s}, picture ${i}`);
          assert.equal(w.lumaStdDev, 0);
          // Each picture is one level above the one before, also across snippets.
          if (n > 0) assert.equal(w.lumaChange, n % 200 === 0 ? 199 : 1);
        });
      }
      assert.equal(pictures.windows(120n * SEC, 130n * SEC)?.length, 10);
      assert.equal(pictures.windows(130n * SEC, 140n * SEC), undefined, 'no pictures, no windows');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'a picture that cannot be read leaves the snippet to be measured from its file',
  T,
  async () => {
    const { dir, pictures } = await setup(150, () => 50);
    try {
      await rm(join(dir, '000125.gray'));
      await writeFile(join(dir, '000140.gray'), Buffer.alloc(PICTURE_PIXELS - 1));
      assert.equal(pictures.windows(0n, 15n * SEC)?.length, 30);
      assert.equal(pictures.windows(15n * SEC, 60n * SEC)?.length, 90);
      assert.equal(pictures.windows(60n * SEC, 65n * SEC), undefined, 'a file is gone');
      assert.equal(pictures.windows(65n * SEC, 75n * SEC), undefined, 'a file is short');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
