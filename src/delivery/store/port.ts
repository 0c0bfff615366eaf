import type { Readable } from 'node:stream';

/**
 * Where snippets end up. Every adapter makes the same promises, proven by one
 * contract suite (test/delivery/store/contract.ts):
 * - put is atomic: a reader sees the whole object or nothing, never part of it;
 * - put never replaces an object with different content (ifAbsent semantics);
 * - list returns keys in byte order, so time-ordered keys list in time order.
 */
export interface ObjectInfo {
  key: string;
  bytes: number;
  /** Hex sha256 of the content, as stored with the object. */
  sha256: string;
  metadata: Record<string, string>;
}

export interface PutOptions {
  /**
   * Hex sha256 of the file; the adapter sends it and the store verifies it. A store that keeps a
   * handed-over file itself (below) transfers nothing, and records it as given.
   */
  sha256: string;
  contentType: string;
  /** Small string metadata (ASCII keys, lower case). */
  metadata?: Record<string, string>;
  /**
   * The caller gives the file up: it will not change it again, only remove it. A store on the
   * same filesystem may then keep the file itself instead of a copy of it.
   */
  handOver?: boolean;
}

export type PutResult =
  /** Written now. */
  | { outcome: 'created' }
  /** The same content was already there (e.g. a retry after a crash): nothing to do. */
  | { outcome: 'exists' };

export interface ListOptions {
  /** Only keys strictly after this one. */
  startAfter?: string;
  /** Stop after this many keys. */
  limit?: number;
}

export interface ObjectStore {
  /** A short description for logs, e.g. `s3://bucket/prefix` (never credentials). */
  readonly describe: string;
  /** Where a person finds the object: a local path for files, an s3:// URL otherwise. */
  locate(key: string): string;
  /** Fails fast with a clear StoreError when the store is unreachable, missing or the credentials are wrong. */
  check(): Promise<void>;
  /** Uploads a local file. Throws ConflictError if the key holds different content. */
  putFile(key: string, path: string, opts: PutOptions): Promise<PutResult>;
  head(key: string): Promise<ObjectInfo | null>;
  /**
   * Keys under a prefix, in byte order; pages internally. Stores that cannot
   * list metadata cheaply (S3) give sha256 '' and metadata {} here; head() has them.
   */
  list(prefix: string, opts?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Streams an object; throws NotFoundError if absent. */
  get(key: string): Promise<Readable>;
  close(): Promise<void>;
}

export class StoreError extends Error {
  override name = 'StoreError';
  /** True for failures worth retrying (network, 5xx, throttling); false for e.g. bad credentials. */
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class ConflictError extends StoreError {
  override name = 'ConflictError';
  constructor(key: string) {
    super(`object ${key} already exists with different content; refusing to overwrite it`, false);
  }
}

export class NotFoundError extends StoreError {
  override name = 'NotFoundError';
  constructor(key: string) {
    super(`object ${key} does not exist`, false);
  }
}
