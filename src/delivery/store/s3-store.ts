import type { CompletedPart, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { assertSha256, assertStoreKey, shaMismatch } from './fs-store.ts';
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

// tapedeck targets Node 20, which this SDK release supports; its notice about future releases
// would otherwise land in every command's output. An explicit setting still wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const MiB = 1024 * 1024;

type Sdk = typeof import('@aws-sdk/client-s3');

export interface S3StoreOptions {
  bucket: string;
  /** Prepended to every key, e.g. `recordings/`; a missing trailing "/" is added. */
  prefix?: string;
  region: string;
  /** For S3-compatible servers, e.g. `http://127.0.0.1:7070`; AWS when absent. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); defaults to true when an endpoint is given. */
  forcePathStyle?: boolean;
  /** Absent: the SDK's default chain (profiles, instance roles…). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Files larger than this go up in parts. Default 16 MiB. */
  multipartThresholdBytes?: number;
  /** Part size for multipart uploads, at least 5 MiB (S3's minimum). Default 8 MiB. */
  partSizeBytes?: number;
  /** Keys per ListObjectsV2 page, 1 to 1000. Default 1000. */
  pageSize?: number;
  /** Attempts per request for retryable failures (network, 5xx, throttling). Default 4. */
  maxAttempts?: number;
  /** First backoff delay; doubles per attempt, with jitter, capped at 5 s. Default 200 ms. */
  retryBaseMs?: number;
  /** TCP connect timeout. Default 3 s. */
  connectTimeoutMs?: number;
  /** A socket idle this long fails the request (and it is retried). Default 30 s. */
  socketTimeoutMs?: number;
  /** Deadline for the whole of check(). Default 5 s. */
  checkTimeoutMs?: number;
}

/** Keys of user metadata become `x-amz-meta-*` headers: lower case, no surprises for proxies. */
const META_KEY = /^[a-z0-9][a-z0-9-]*$/;
const META_VALUE = /^[\x20-\x7e]*$/;
/** Holds the hex sha256 of every object this adapter writes. */
const SHA_META = 'sha256';

function validateMetadata(metadata: Record<string, string>): Record<string, string> {
  for (const [k, v] of Object.entries(metadata)) {
    if (!META_KEY.test(k) || k === SHA_META)
      throw new StoreError(`metadata key ${JSON.stringify(k)} is not allowed for S3`, false);
    if (typeof v !== 'string' || !META_VALUE.test(v))
      throw new StoreError(`metadata ${k} must be printable ASCII for S3`, false);
  }
  return metadata;
}

function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** What an SDK error means for us. */
interface Failure {
  status: number | undefined;
  code: string | undefined;
  message: string;
  /** No HTTP answer at all: refused, reset, timed out, DNS. */
  network: boolean;
  retryable: boolean;
}

const RETRYABLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'ConditionalRequestConflict',
  'OperationAborted',
]);

const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  // versitygw's answer to an unknown access key (with HTTP 404).
  'XAdminUserNotFound',
]);

const REGION_CODES = new Set([
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'IllegalLocationConstraintException',
]);

function classify(err: unknown): Failure {
  const e = (err ?? {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e.$metadata?.httpStatusCode;
  const name = typeof e.name === 'string' ? e.name : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const errno = typeof e.code === 'string' ? e.code : undefined;
  // HEAD answers have no body, so the SDK names them "Unknown", "NotFound" or similar.
  const code =
    (typeof e.Code === 'string' ? e.Code : undefined) ??
    (name && !['Error', 'Unknown', 'UnknownError'].includes(name) ? name : undefined) ??
    errno;
  if (status === undefined) {
    if (name === 'CredentialsProviderError')
      return { status, code, message, network: false, retryable: false };
    const network =
      name === 'TimeoutError' ||
      name === 'AbortError' ||
      (errno !== undefined && /^E[A-Z_]+$/.test(errno));
    return { status, code, message, network, retryable: network };
  }
  const retryable =
    status >= 500 || status === 429 || (code !== undefined && RETRYABLE_CODES.has(code));
  return { status, code, message, network: false, retryable };
}

function reasonOf(f: Failure): string {
  if (f.network) return `cannot reach the endpoint (${f.code ?? 'network error'}: ${f.message})`;
  const parts = [f.status !== undefined ? `HTTP ${f.status}` : undefined, f.code].filter(Boolean);
  const text = f.message && f.message !== 'UnknownError' ? `: ${f.message}` : '';
  return `${parts.join(' ') || 'error'}${text}`;
}

function describeFailure(what: string, where: string, f: Failure, attempts: number): string {
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  return `${what} on ${where} failed${tries}: ${reasonOf(f)}`;
}

async function explainCheckFailure(
  err: unknown,
  detail: () => Promise<unknown>,
  ctx: { bucket: string; describe: string; endpoint: string | undefined; timeoutMs: number },
): Promise<StoreError> {
  const endpoint = ctx.endpoint ?? 'AWS S3';
  const first = classify(err);
  const fail = (message: string, retryable: boolean) =>
    new StoreError(`store ${ctx.describe}: ${message}`, retryable, { cause: err });
  if (first.code === 'CredentialsProviderError')
    return fail('no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY', false);
  if (first.network) {
    if (first.code === 'AbortError' || first.code === 'TimeoutError')
      return fail(`the S3 endpoint ${endpoint} did not answer within ${ctx.timeoutMs} ms`, true);
    return fail(
      `cannot reach the S3 endpoint ${endpoint} (${first.code ?? 'network error'}: ${first.message})`,
      true,
    );
  }
  const secondError = first.status !== undefined && first.status < 500 ? await detail() : undefined;
  const second = secondError === undefined ? undefined : classify(secondError);
  const codes = [second?.code, first.code];
  const shown = `HTTP ${first.status}${second?.code ? ` ${second.code}` : ''}`;
  if (codes.some((c) => c !== undefined && REGION_CODES.has(c)) || first.status === 301)
    return fail(
      `bucket ${ctx.bucket} is in another region (${shown}): set AWS_REGION to its region`,
      false,
    );
  if (second?.code === 'NoSuchBucket' || (first.status === 404 && second?.code === undefined))
    return fail(
      `bucket ${ctx.bucket} does not exist at ${endpoint} (${shown}): create it, or fix the bucket name in the store URL`,
      false,
    );
  if (codes.some((c) => c !== undefined && CREDENTIAL_CODES.has(c)) || first.status === 403)
    return fail(
      `the S3 credentials were refused (${shown}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
        `and that they may read bucket ${ctx.bucket}`,
      false,
    );
  return fail(`the bucket cannot be used (${reasonOf(second ?? first)})`, first.retryable);
}

type Precondition = { precondition: true };
const PRECONDITION: Precondition = { precondition: true };

/**
 * An S3 bucket (AWS or compatible) as an object store.
 *
 * - Writes are conditional (`If-None-Match: *`), so an existing object is
 *   never replaced; a 412 is answered by comparing sha256 values. AWS makes
 *   conditional writes atomic; versitygw 1.7 does not for two requests racing
 *   on one key (both may succeed), which matters only if two writers upload
 *   different content under one key at the same moment.
 * - The server verifies the bytes: single puts send ChecksumSHA256 of the
 *   whole object, multipart uploads a ChecksumSHA256 per part, while the whole
 *   file's hash is computed from the same buffers and compared before
 *   completing. The hex sha256 is stored as `x-amz-meta-sha256`.
 * - list() returns sha256 '' and metadata {}: ListObjectsV2 does not return
 *   user metadata, and a HEAD per key would make range listings slow. head()
 *   gives the full information.
 * - Retries (with backoff) are done here rather than by the SDK, so that
 *   check() can fail at once while other calls ride out short outages, and
 *   every failure ends as a StoreError that says whether a retry may help.
 */
export class S3Store implements ObjectStore {
  readonly describe: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly region: string;
  readonly endpoint: string | undefined;
  private readonly clientConfig: S3ClientConfig;
  /**
   * The SDK is loaded at the first request, not with this module: it takes about 0.15 s of CPU,
   * and every process of a node opens its store as it starts, S3 or not.
   */
  private loaded: Promise<{ client: S3Client; m: Sdk }> | null = null;
  private readonly threshold: number;
  private readonly partSize: number;
  private readonly pageSize: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly checkTimeoutMs: number;

  constructor(opts: S3StoreOptions) {
    this.bucket = opts.bucket;
    const prefix = opts.prefix ?? '';
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    if (this.prefix !== '') assertStoreKey(this.prefix.slice(0, -1));
    this.region = opts.region;
    this.endpoint = opts.endpoint;
    const where = opts.endpoint ? ` at ${new URL(opts.endpoint).origin}` : '';
    this.describe = `s3://${this.bucket}/${this.prefix}${where}`;
    this.threshold = opts.multipartThresholdBytes ?? 16 * MiB;
    this.partSize = Math.max(opts.partSizeBytes ?? 8 * MiB, 5 * MiB);
    this.pageSize = Math.min(Math.max(opts.pageSize ?? 1000, 1), 1000);
    this.maxAttempts = Math.max(opts.maxAttempts ?? 4, 1);
    this.retryBaseMs = opts.retryBaseMs ?? 200;
    this.checkTimeoutMs = opts.checkTimeoutMs ?? 5000;
    this.clientConfig = {
      region: opts.region,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle ?? opts.endpoint !== undefined,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      maxAttempts: 1,
      // Checksums are sent explicitly; no SDK-added CRC32 or aws-chunked trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: opts.connectTimeoutMs ?? 3000,
        socketTimeout: opts.socketTimeoutMs ?? 30_000,
      },
    };
  }

  private sdk(): Promise<{ client: S3Client; m: Sdk }> {
    this.loaded ??= import('@aws-sdk/client-s3').then((m) => ({
      client: new m.S3Client(this.clientConfig),
      m,
    }));
    return this.loaded;
  }

  locate(key: string): string {
    return `s3://${this.bucket}/${this.full(key)}`;
  }

  private full(key: string): string {
    return this.prefix + assertStoreKey(key);
  }

  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof StoreError) throw err;
        const failure = classify(err);
        if (!failure.retryable || attempt >= this.maxAttempts)
          throw new StoreError(
            describeFailure(what, this.describe, failure, attempt),
            failure.retryable,
            {
              cause: err,
            },
          );
        const delay = Math.min(this.retryBaseMs * 2 ** (attempt - 1), 5000);
        await sleep(delay / 2 + Math.random() * (delay / 2));
      }
    }
  }

  async check(): Promise<void> {
    const signal = AbortSignal.timeout(this.checkTimeoutMs);
    const { client, m } = await this.sdk();
    try {
      await client.send(new m.HeadBucketCommand({ Bucket: this.bucket }), {
        abortSignal: signal,
      });
    } catch (err) {
      // HEAD answers carry no error code, so a GET tells wrong credentials from a missing bucket.
      const detail = async (): Promise<unknown> => {
        try {
          await client.send(new m.ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1 }), {
            abortSignal: signal,
          });
          return undefined;
        } catch (second) {
          return second;
        }
      };
      throw await explainCheckFailure(err, detail, {
        bucket: this.bucket,
        describe: this.describe,
        endpoint: this.endpoint,
        timeoutMs: this.checkTimeoutMs,
      });
    }
  }

  async putFile(key: string, path: string, opts: PutOptions): Promise<PutResult> {
    const full = this.full(key);
    const sha256 = assertSha256(opts.sha256);
    const metadata = { ...validateMetadata(opts.metadata ?? {}), [SHA_META]: sha256 };
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      throw new StoreError(`cannot store ${key}: cannot read ${path}`, false, { cause: err });
    }
    if (size > this.threshold)
      return this.putMultipart(key, full, path, size, sha256, opts.contentType, metadata);

    let body: Buffer;
    try {
      body = await readFile(path);
    } catch (err) {
      throw new StoreError(`cannot store ${key}: cannot read ${path}`, false, { cause: err });
    }
    const actual = createHash('sha256').update(body).digest('hex');
    if (actual !== sha256) throw shaMismatch(path, actual, sha256);
    const { client, m } = await this.sdk();
    const result = await this.retry(`put ${key}`, async () => {
      try {
        await client.send(
          new m.PutObjectCommand({
            Bucket: this.bucket,
            Key: full,
            Body: body,
            ContentLength: body.length,
            ContentType: opts.contentType,
            Metadata: metadata,
            ChecksumSHA256: hexToBase64(sha256),
            IfNoneMatch: '*',
          }),
        );
        return undefined;
      } catch (err) {
        if (classify(err).status === 412) return PRECONDITION;
        throw err;
      }
    });
    if (result) return this.sameOrConflict(key, sha256);
    return { outcome: 'created' };
  }

  private async sameOrConflict(
    key: string,
    sha256: string,
    known?: ObjectInfo,
  ): Promise<PutResult> {
    const existing = known ?? (await this.head(key));
    if (!existing)
      throw new StoreError(`put ${key}: the store reported the key taken, but it is absent`, true);
    if (existing.sha256 === sha256) return { outcome: 'exists' };
    throw new ConflictError(key);
  }

  private async putMultipart(
    key: string,
    full: string,
    path: string,
    size: number,
    sha256: string,
    contentType: string,
    metadata: Record<string, string>,
  ): Promise<PutResult> {
    // Saves uploading a large body just to learn that it is already there.
    const before = await this.head(key);
    if (before) return this.sameOrConflict(key, sha256, before);
    const { client, m } = await this.sdk();
    const created = await this.retry(`start multipart upload of ${key}`, () =>
      client.send(
        new m.CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: full,
          ContentType: contentType,
          Metadata: metadata,
          ChecksumAlgorithm: 'SHA256',
        }),
      ),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new StoreError(`start multipart upload of ${key}: no upload id`, true);
    let completed = false;
    try {
      const parts = await this.uploadParts(key, full, path, size, sha256, uploadId);
      let attempt = 0;
      const outcome = await this.retry(`complete multipart upload of ${key}`, async () => {
        attempt++;
        try {
          await client.send(
            new m.CompleteMultipartUploadCommand({
              Bucket: this.bucket,
              Key: full,
              UploadId: uploadId,
              MultipartUpload: { Parts: parts },
              // Honoured by AWS and versitygw; a store that ignores it could be
              // raced by another writer between the head() above and here.
              IfNoneMatch: '*',
            }),
          );
          return undefined;
        } catch (err) {
          const failure = classify(err);
          if (failure.status === 412) return PRECONDITION;
          // An earlier attempt completed but its answer was lost.
          if (attempt > 1 && failure.code === 'NoSuchUpload') return PRECONDITION;
          throw err;
        }
      });
      if (outcome) return await this.sameOrConflict(key, sha256);
      completed = true;
      return { outcome: 'created' };
    } finally {
      if (!completed)
        await client
          .send(
            new m.AbortMultipartUploadCommand({
              Bucket: this.bucket,
              Key: full,
              UploadId: uploadId,
            }),
          )
          .catch(() => undefined);
    }
  }

  private async uploadParts(
    key: string,
    full: string,
    path: string,
    size: number,
    sha256: string,
    uploadId: string,
  ): Promise<CompletedPart[]> {
    const { client, m } = await this.sdk();
    const whole = createHash('sha256');
    const parts: CompletedPart[] = [];
    const fh = await open(path, 'r').catch((err: unknown) => {
      throw new StoreError(`cannot store ${key}: cannot read ${path}`, false, { cause: err });
    });
    try {
      // One part in memory at a time: snippets are far below the threshold, so this path
      // serves the occasional long clip, where memory matters more than speed.
      for (let n = 1, offset = 0; offset < size; n++, offset += this.partSize) {
        const body = Buffer.alloc(Math.min(this.partSize, size - offset));
        let filled = 0;
        while (filled < body.length) {
          const { bytesRead } = await fh.read(body, filled, body.length - filled, offset + filled);
          if (bytesRead === 0)
            throw new StoreError(`cannot store ${key}: ${path} shrank while uploading`, false);
          filled += bytesRead;
        }
        whole.update(body);
        const partSha = createHash('sha256').update(body).digest('base64');
        const answer = await this.retry(`upload part ${n} of ${key}`, () =>
          client.send(
            new m.UploadPartCommand({
              Bucket: this.bucket,
              Key: full,
              UploadId: uploadId,
              PartNumber: n,
              Body: body,
              ContentLength: body.length,
              ChecksumSHA256: partSha,
            }),
          ),
        );
        parts.push({ PartNumber: n, ETag: answer.ETag, ChecksumSHA256: partSha });
      }
    } finally {
      await fh.close();
    }
    const actual = whole.digest('hex');
    if (actual !== sha256) throw shaMismatch(path, actual, sha256);
    return parts;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const full = this.full(key);
    const { client, m } = await this.sdk();
    return this.retry(`head ${key}`, async () => {
      try {
        const r = await client.send(new m.HeadObjectCommand({ Bucket: this.bucket, Key: full }));
        const { [SHA_META]: sha, ...metadata } = r.Metadata ?? {};
        return { key, bytes: r.ContentLength ?? 0, sha256: sha ?? '', metadata };
      } catch (err) {
        if (classify(err).status === 404) return null;
        throw err;
      }
    });
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    if (prefix.includes('\0')) throw new StoreError('list prefix contains a NUL character', false);
    let remaining = opts.limit ?? Infinity;
    let token: string | undefined;
    const startAfter =
      opts.startAfter !== undefined && opts.startAfter !== ''
        ? this.prefix + opts.startAfter
        : undefined;
    while (remaining > 0) {
      const { client, m } = await this.sdk();
      const page = await this.retry(`list ${this.prefix}${prefix}`, () =>
        client.send(
          new m.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            MaxKeys: Math.min(this.pageSize, remaining),
            ...(token
              ? { ContinuationToken: token }
              : startAfter
                ? { StartAfter: startAfter }
                : {}),
          }),
        ),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined || !item.Key.startsWith(this.prefix)) continue;
        yield {
          key: item.Key.slice(this.prefix.length),
          bytes: item.Size ?? 0,
          sha256: '',
          metadata: {},
        };
        if (--remaining <= 0) return;
      }
      if (!page.IsTruncated || !page.NextContinuationToken) return;
      token = page.NextContinuationToken;
    }
  }

  async get(key: string): Promise<Readable> {
    const full = this.full(key);
    const { client, m } = await this.sdk();
    return this.retry(`get ${key}`, async () => {
      try {
        const r = await client.send(new m.GetObjectCommand({ Bucket: this.bucket, Key: full }));
        if (r.Body instanceof Readable) return r.Body;
        throw new StoreError(`get ${key}: the response has no readable body`, true);
      } catch (err) {
        if (classify(err).status === 404) throw new NotFoundError(key);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (this.loaded) (await this.loaded).client.destroy();
  }
}
