import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, StoreError, type ObjectStore } from '../../delivery/store/port.ts';

/**
 * Merged clips fetched from the object store once and kept on local disk, so a player's many
 * small Range requests are served from a file instead of one store download each. Objects in
 * the store never change under a key (put refuses different content), so a cached file never
 * goes stale; the folder is kept under a size limit by dropping the least recently used clips.
 */

export interface CachedClip {
  path: string;
  bytes: number;
}

export const DEFAULT_CLIP_CACHE_BYTES = 2 * 1024 ** 3;

export class ClipCache {
  private readonly pending = new Map<string, Promise<CachedClip>>();

  constructor(
    private readonly store: ObjectStore,
    readonly dir: string,
    private readonly maxBytes = DEFAULT_CLIP_CACHE_BYTES,
  ) {}

  private pathOf(key: string): string {
    const name = createHash('sha256').update(key).digest('hex');
    const ext = /\.([a-z0-9]{1,5})$/i.exec(key)?.[1] ?? 'bin';
    return join(this.dir, `${name}.${ext}`);
  }

  /** The clip as a local file; NotFoundError when the store does not have it. */
  async file(key: string): Promise<CachedClip> {
    const path = this.pathOf(key);
    try {
      const s = await stat(path);
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
      return { path, bytes: s.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Two players opening the same clip at once share one download.
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetch(key, path).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async fetch(key: string, path: string): Promise<CachedClip> {
    await mkdir(this.dir, { recursive: true });
    const info = await this.store.head(key);
    if (info === null) throw new NotFoundError(key);
    const part = `${path}.${randomBytes(6).toString('hex')}.part`;
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await pipeline(
        await this.store.get(key),
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            bytes += chunk.length;
            done(null, chunk);
          },
        }),
        createWriteStream(part, { flags: 'wx' }),
      );
      const sha256 = hash.digest('hex');
      if (bytes !== info.bytes || (info.sha256 !== '' && sha256 !== info.sha256))
        throw new StoreError(
          `clip ${key} arrived damaged (${bytes} of ${info.bytes} bytes, sha256 ${sha256.slice(0, 12)}…); try again`,
          true,
        );
      await rename(part, path);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
    await this.prune(path).catch(() => undefined);
    return { path, bytes };
  }

  /** Drops the least recently used clips until the folder fits; never the one just fetched. */
  private async prune(keep: string): Promise<void> {
    const files = await Promise.all(
      (await readdir(this.dir))
        .filter((n) => !n.endsWith('.part'))
        .map(async (n) => {
          const p = join(this.dir, n);
          const s = await stat(p);
          return { p, bytes: s.size, used: s.mtimeMs };
        }),
    );
    let total = files.reduce((sum, f) => sum + f.bytes, 0);
    for (const f of files.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      if (f.p === keep) continue;
      await rm(f.p, { force: true });
      total -= f.bytes;
    }
  }
}

export type ByteRange = { start: number; end: number };

/**
 * The byte range a Range header asks for (RFC 9110 §14): one `bytes=` range, inclusive end.
 * null means send the whole object (no header, a unit we do not know, or several ranges, which
 * a server may answer in full); 'unsatisfiable' means 416.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header.trim());
  if (!m) return null;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return null;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return null;
  return { start, end };
}
