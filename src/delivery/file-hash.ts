import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const CHUNK_BYTES = 1 << 20;
const SPARES_KEPT = 4;

/**
 * Read buffers handed back after use. A fresh buffer per chunk, as a read stream makes, is memory
 * outside the JavaScript heap: megabytes of it per snippet made V8 start a full collection every
 * few snippets, and those took a third of a worker process's CPU.
 */
const spares: Buffer[] = [];

/**
 * Calls `each` with the file's bytes in order, every chunk read into one buffer that is reused:
 * `each` must be done with a chunk when it returns or its promise settles. Resolves with the
 * byte count.
 */
export async function forEachChunk(
  path: string,
  each: (chunk: Buffer) => void | Promise<void>,
): Promise<number> {
  const buf = spares.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
  const fh = await open(path, 'r').catch((err: unknown) => {
    spares.push(buf);
    throw err;
  });
  let bytes = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, bytes);
      if (bytesRead === 0) return bytes;
      await each(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await fh.close();
    if (spares.length < SPARES_KEPT) spares.push(buf);
  }
}

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const bytes = await forEachChunk(path, (chunk) => void hash.update(chunk));
  return { sha256: hash.digest('hex'), bytes };
}
