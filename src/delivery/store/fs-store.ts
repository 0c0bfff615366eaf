import { createHash, randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import {
  access,
  constants,
  link,
  mkdir,
  open,
  readFile,
  readdir,
  stat,
  unlink,
} from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';

import {
  ConflictError,
  NotFoundError,
  StoreError,
  type ListOptions,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './port.ts';
import { fsyncDir, writeFileAtomic } from '../durable-file.ts';
import { forEachChunk, sha256File } from '../file-hash.ts';

/**
 * Keys are portable between stores, so every adapter applies the same rules.
 * Segments starting with "." are refused because the filesystem store keeps
 * its temporary files and sidecars under such names; "." and ".." could also
 * escape the root.
 */
export function assertStoreKey(key: string): string {
  const refuse = (why: string): never => {
    throw new StoreError(`object key ${JSON.stringify(key)} is not allowed: ${why}`, false);
  };
  if (typeof key !== 'string' || key === '') refuse('it is empty');
  if (key.includes('\0')) refuse('it contains a NUL character');
  if (key.startsWith('/')) refuse('it starts with "/" (keys are relative)');
  if (Buffer.byteLength(key) > 1024) refuse('it is longer than 1024 bytes');
  for (const segment of key.split('/')) {
    if (segment === '') refuse('it has an empty path segment (a trailing or doubled "/")');
    if (segment.startsWith('.'))
      refuse('a path segment starts with "." (reserved, and ".." escapes)');
    // Leaves room for the ".{name}.tmp-{random}" and sidecar names within NAME_MAX (255).
    if (Buffer.byteLength(segment) > 200) refuse('a path segment is longer than 200 bytes');
  }
  return key;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function assertSha256(sha256: string): string {
  const lower = typeof sha256 === 'string' ? sha256.toLowerCase() : '';
  if (!SHA256_HEX.test(lower))
    throw new StoreError(`sha256 ${JSON.stringify(sha256)} is not 64 hex digits`, false);
  return lower;
}

export function shaMismatch(path: string, actual: string, expected: string): StoreError {
  return new StoreError(
    `sha256 of ${path} is ${actual}, not the expected ${expected}: the file changed or the checksum is wrong`,
    false,
  );
}

interface Sidecar {
  sha256: string;
  bytes: number;
  contentType: string;
  metadata: Record<string, string>;
}

/** Codes that retrying cannot fix; anything else (ENOSPC, EIO, EMFILE…) may pass. */
const PERMANENT = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EISDIR',
  'ENAMETOOLONG',
  'EINVAL',
  'ENOENT',
  'ELOOP',
  'EEXIST',
]);

/** link() errors that say files must be copied instead: another filesystem, no hard links. */
const NEVER_LINKS = new Set(['EXDEV', 'ENOTSUP', 'EOPNOTSUPP']);
/** link() errors that say this file must be copied: not ours to link, too many links. */
const CANNOT_LINK = new Set([...NEVER_LINKS, 'EPERM', 'EMLINK']);

function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function toStoreError(what: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const code = errnoCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError(`${what}: ${message}`, code === undefined || !PERMANENT.has(code), {
    cause: err,
  });
}

function tmpSuffix(): string {
  return randomBytes(6).toString('hex');
}

/**
 * mkdir -p without `recursive: true`, which was seen to hang on some
 * pseudo-filesystems. Returns the folders it created, outermost first, so the
 * caller can fsync their parents.
 */
async function ensureDir(dir: string): Promise<string[]> {
  const missing: string[] = [];
  let current = dir;
  for (;;) {
    try {
      const st = await stat(current);
      if (!st.isDirectory()) {
        const err: NodeJS.ErrnoException = new Error(`${current} is not a folder`);
        err.code = 'ENOTDIR';
        throw err;
      }
      break;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      missing.unshift(current);
      const parent = dirname(current);
      if (parent === current) break;
      current = parent;
    }
  }
  for (const folder of missing) {
    try {
      await mkdir(folder);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
  }
  return missing;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The embedded store: one file per object under a root folder, the key being
 * the relative path. Sidecars and temporary files have names starting with
 * ".", which keys cannot have, so they never show up as objects.
 *
 * Each object's metadata lives in a sidecar named after the object and its
 * inode (`.{name}.{ino}.meta`). The sidecar is written before the object
 * becomes visible, and because an inode belongs to one upload attempt while it
 * is in flight, racing uploads of one key never overwrite each other's
 * sidecar. A handed-over file is linked in, not copied: its inode is the
 * caller's file's, which only puts of that one file share. An object without a
 * valid sidecar (e.g. copied in by hand, which changes inodes) still works: its
 * sha256 is computed from its content and its metadata is empty.
 */
export class FsStore implements ObjectStore {
  readonly root: string;
  readonly describe: string;
  /** False once a hard link into the store failed for good: handed-over files are copied. */
  private linkable = true;

  constructor(root: string) {
    if (root.includes('\0')) throw new StoreError('store folder contains a NUL character', false);
    this.root = resolve(root);
    this.describe = `file://${this.root}`;
  }

  locate(key: string): string {
    return this.pathOf(key);
  }

  private pathOf(key: string): string {
    return join(this.root, ...assertStoreKey(key).split('/'));
  }

  async check(): Promise<void> {
    try {
      await ensureDir(this.root);
      const st = await stat(this.root);
      if (!st.isDirectory()) throw new StoreError(`${this.root} is not a folder`, false);
      await access(this.root, constants.R_OK | constants.W_OK | constants.X_OK);
      // access() trusts mode bits; a real write also catches read-only mounts.
      const probe = join(this.root, `.check.tmp-${tmpSuffix()}`);
      await (await open(probe, 'wx')).close();
      await unlink(probe);
    } catch (err) {
      throw toStoreError(`store folder ${this.root} is not usable`, err);
    }
  }

  async putFile(key: string, path: string, opts: PutOptions): Promise<PutResult> {
    const target = this.pathOf(key);
    const expected = assertSha256(opts.sha256);
    const dir = dirname(target);
    const name = basename(target);
    try {
      const created = await ensureDir(dir);
      for (const folder of created) await fsyncDir(dirname(folder));
    } catch (err) {
      if (errnoCode(err) === 'ENOTDIR')
        throw new StoreError(`cannot store ${key}: a parent of it is an object`, false, {
          cause: err,
        });
      throw toStoreError(`cannot create the folder for ${key}`, err);
    }

    // A retry after a crash usually finds the object already there; no copy needed.
    const before = await this.head(key);
    if (before) return this.sameOrConflict(key, before, expected);

    if (opts.handOver && this.linkable) {
      const kept = await this.keep(key, path, target, expected, opts);
      if (kept) return kept;
    }

    const tmp = join(dir, `.${name}.tmp-${tmpSuffix()}`);
    let sidecar: string | undefined;
    try {
      const { sha256, bytes, ino } = await copyHashing(path, tmp);
      if (sha256 !== expected) throw shaMismatch(path, sha256, expected);
      sidecar = join(dir, `.${name}.${ino}.meta`);
      const meta: Sidecar = {
        sha256,
        bytes,
        contentType: opts.contentType,
        metadata: { ...(opts.metadata ?? {}) },
      };
      await writeFileAtomic(sidecar, JSON.stringify(meta));
      try {
        // link() refuses to replace an existing name, unlike rename().
        await link(tmp, target);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
        const mine = sidecar;
        sidecar = undefined;
        return await this.taken(key, target, mine, ino, expected);
      }
      sidecar = undefined;
      await unlink(tmp).catch(() => undefined);
      await fsyncDir(dir);
      return { outcome: 'created' };
    } catch (err) {
      if (sidecar) await unlink(sidecar).catch(() => undefined);
      throw toStoreError(`cannot store ${key} from ${path}`, err);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * Makes a handed-over file the object by a second name (a hard link): no bytes are copied or
   * hashed again, so the caller's sha256 is recorded as given. Null when this filesystem cannot
   * link it here (another filesystem, no hard links): the caller copies instead.
   */
  private async keep(
    key: string,
    path: string,
    target: string,
    sha256: string,
    opts: PutOptions,
  ): Promise<PutResult | null> {
    const dir = dirname(target);
    let sidecar: string | undefined;
    try {
      // The writer of a spool file never syncs it; the object must survive a power cut.
      const fh = await open(path, 'r');
      let st;
      try {
        await fh.sync();
        st = await fh.stat({ bigint: true });
      } finally {
        await fh.close();
      }
      if (!st.isFile()) throw new StoreError(`cannot store ${key}: ${path} is not a file`, false);
      sidecar = join(dir, `.${basename(target)}.${st.ino}.meta`);
      const meta: Sidecar = {
        sha256,
        bytes: Number(st.size),
        contentType: opts.contentType,
        metadata: { ...(opts.metadata ?? {}) },
      };
      await writeFileAtomic(sidecar, JSON.stringify(meta));
      try {
        await link(path, target);
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'EEXIST') {
          await unlink(sidecar).catch(() => undefined);
          sidecar = undefined;
          if (code !== undefined && CANNOT_LINK.has(code)) {
            if (NEVER_LINKS.has(code)) this.linkable = false;
            return null;
          }
          throw err;
        }
        const mine = sidecar;
        sidecar = undefined;
        return await this.taken(key, target, mine, st.ino, sha256);
      }
      sidecar = undefined;
      await fsyncDir(dir);
      return { outcome: 'created' };
    } catch (err) {
      if (sidecar) await unlink(sidecar).catch(() => undefined);
      throw toStoreError(`cannot store ${key} from ${path}`, err);
    }
  }

  /**
   * The key's name was taken while this put wrote its file: this put's sidecar goes, unless the
   * name holds that very inode (a racing put of the same handed-over file, whose sidecar it is
   * too), and the answer is what the name holds.
   */
  private async taken(
    key: string,
    target: string,
    sidecar: string,
    ino: bigint,
    sha256: string,
  ): Promise<PutResult> {
    const held = await stat(target, { bigint: true }).then(
      (st) => st.ino,
      () => undefined,
    );
    if (held !== ino) await unlink(sidecar).catch(() => undefined);
    const existing = await this.head(key);
    if (!existing) throw new StoreError(`cannot store ${key}: the name is taken`, false);
    return this.sameOrConflict(key, existing, sha256);
  }

  private sameOrConflict(key: string, existing: ObjectInfo, sha256: string): PutResult {
    if (existing.sha256 === sha256) return { outcome: 'exists' };
    throw new ConflictError(key);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const path = this.pathOf(key);
    try {
      return await this.infoAt(key, path);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw toStoreError(`cannot read ${key}`, err);
    }
  }

  private async infoAt(key: string, path: string): Promise<ObjectInfo | null> {
    const st = await stat(path, { bigint: true });
    if (!st.isFile()) return null;
    const bytes = Number(st.size);
    const sidecarPath = join(dirname(path), `.${basename(path)}.${st.ino}.meta`);
    const meta = await readSidecar(sidecarPath);
    if (meta && meta.bytes === bytes)
      return { key, bytes, sha256: meta.sha256, metadata: meta.metadata };
    return { key, bytes, sha256: (await sha256File(path)).sha256, metadata: {} };
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    if (prefix.includes('\0')) throw new StoreError('list prefix contains a NUL character', false);
    const cut = prefix.lastIndexOf('/');
    const dirPart = cut >= 0 ? prefix.slice(0, cut) : '';
    if (dirPart !== '') assertStoreKey(dirPart);
    let remaining = opts.limit ?? Infinity;
    if (remaining <= 0) return;
    const startDir = dirPart === '' ? this.root : join(this.root, ...dirPart.split('/'));
    const startKey = dirPart === '' ? '' : `${dirPart}/`;
    for await (const key of this.walk(startDir, startKey, prefix, opts.startAfter)) {
      let info: ObjectInfo | null;
      try {
        info = await this.infoAt(key, join(this.root, ...key.split('/')));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue;
        throw toStoreError(`cannot read ${key}`, err);
      }
      if (!info) continue;
      yield info;
      if (--remaining <= 0) return;
    }
  }

  /**
   * Depth-first in byte order of the full keys: a folder sorts as its name
   * plus "/", so "b-c" (0x2D) comes before everything under "b/" (0x2F).
   */
  private async *walk(
    dir: string,
    dirKey: string,
    prefix: string,
    startAfter: string | undefined,
  ): AsyncGenerator<string> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw toStoreError(`cannot list ${dir}`, err);
    }
    const items = entries
      .filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isDirectory()))
      .map((e) => ({
        dir: e.isDirectory(),
        sortKey: `${dirKey}${e.name}${e.isDirectory() ? '/' : ''}`,
      }))
      .sort((a, b) => compareBytes(a.sortKey, b.sortKey));
    for (const item of items) {
      const key = item.sortKey;
      if (item.dir) {
        // Descend only where the subtree can hold keys under the prefix and after startAfter.
        if (!key.startsWith(prefix) && !prefix.startsWith(key)) continue;
        if (
          startAfter !== undefined &&
          compareBytes(key, startAfter) < 0 &&
          !startAfter.startsWith(key)
        )
          continue;
        yield* this.walk(join(dir, key.slice(dirKey.length, -1)), key, prefix, startAfter);
      } else {
        if (!key.startsWith(prefix)) continue;
        if (startAfter !== undefined && compareBytes(key, startAfter) <= 0) continue;
        yield key;
      }
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(key);
      throw toStoreError(`cannot read ${key}`, err);
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new NotFoundError(key);
    }
    return fh.createReadStream();
  }

  async close(): Promise<void> {}
}

/** Copies src to a new file dst, hashing exactly the bytes written, and fsyncs it. */
async function copyHashing(
  src: string,
  dst: string,
): Promise<{ sha256: string; bytes: number; ino: bigint }> {
  const hash = createHash('sha256');
  const out = await open(dst, 'wx', 0o644);
  try {
    const bytes = await forEachChunk(src, async (buf) => {
      hash.update(buf);
      let offset = 0;
      while (offset < buf.length) {
        const { bytesWritten } = await out.write(buf, offset, buf.length - offset);
        offset += bytesWritten;
      }
    });
    await out.sync();
    const st = await out.stat({ bigint: true });
    return { sha256: hash.digest('hex'), bytes, ino: st.ino };
  } finally {
    await out.close();
  }
}

async function readSidecar(path: string): Promise<Sidecar | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    const value = JSON.parse(text) as Partial<Sidecar>;
    if (
      typeof value.sha256 !== 'string' ||
      !SHA256_HEX.test(value.sha256) ||
      typeof value.bytes !== 'number' ||
      typeof value.metadata !== 'object' ||
      value.metadata === null
    )
      return null;
    return value as Sidecar;
  } catch {
    return null;
  }
}
