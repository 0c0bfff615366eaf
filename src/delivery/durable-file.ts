import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

/** Makes a folder's entries (a rename, a link, a new file) survive a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Temporary file, fsync, rename: a reader sees the old content or the new, whole, never a mix.
 * With `dir`, the folder is synced too, so the new name itself is durable.
 */
export async function writeFileAtomic(path: string, content: string, dir?: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    if (dir !== undefined) await fsyncDir(dir);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
