import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { forEachChunk, sha256File } from '../../src/delivery/file-hash.ts';

const T = { timeout: 20_000 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('file hashing through reused buffers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tapedeck-hash-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('files of several chunks hashed at once each get their own bytes', T, async () => {
    // Sizes across the 1-MiB chunk: under one, exactly two, and a part past three.
    const contents = [1000, 2 << 20, (3 << 20) + 12_345, 0].map((n) => randomBytes(n));
    const files = await Promise.all(
      contents.map(async (c, i) => {
        const f = join(dir, `f${i}`);
        await writeFile(f, c);
        return f;
      }),
    );
    for (let round = 0; round < 3; round++) {
      const sums = await Promise.all(files.map((f) => sha256File(f)));
      sums.forEach((s, i) => {
        assert.equal(s.bytes, contents[i]!.length);
        assert.equal(s.sha256, sha(contents[i]!));
      });
    }
  });

  test('chunks come in order and an awaited consumer sees each whole', T, async () => {
    const content = randomBytes((2 << 20) + 7);
    const f = join(dir, 'ordered');
    await writeFile(f, content);
    const copies: Buffer[] = [];
    const bytes = await forEachChunk(f, async (chunk) => {
      await new Promise((r) => setTimeout(r, 5));
      copies.push(Buffer.from(chunk));
    });
    assert.equal(bytes, content.length);
    assert.ok(Buffer.concat(copies).equals(content));
  });

  test('a missing file and a failing consumer reject, and later reads still work', T, async () => {
    await assert.rejects(sha256File(join(dir, 'absent')), { code: 'ENOENT' });
    const f = join(dir, 'fails');
    const content = randomBytes(3 << 20);
    await writeFile(f, content);
    await assert.rejects(
      forEachChunk(f, () => {
        throw new Error('consumer failed');
      }),
      /consumer failed/,
    );
    assert.equal((await sha256File(f)).sha256, sha(content));
  });
});
