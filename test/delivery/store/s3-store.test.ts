import {
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { StoreError } from '../../../src/delivery/store/port.ts';
import { S3Store, type S3StoreOptions } from '../../../src/delivery/store/s3-store.ts';
import { freeTcpPort } from '../../../src/support/free-port.ts';
import { startVersityGw, type VersityGw } from '../../support/versitygw.ts';
import { collect, readAll, runStoreContract, sha256 } from './contract.ts';

const MiB = 1024 * 1024;

function storeFor(gw: VersityGw, extra: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({
    bucket: gw.bucket,
    region: gw.region,
    endpoint: gw.endpoint,
    credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey },
    maxAttempts: 2,
    retryBaseMs: 50,
    ...extra,
  });
}

function rawClient(gw: VersityGw): S3Client {
  return new S3Client({
    region: gw.region,
    endpoint: gw.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey },
  });
}

// pageSize 3 makes every listing of more than three keys page through continuation tokens.
runStoreContract('s3 (versitygw)', async () => {
  const gw = await startVersityGw();
  return { store: storeFor(gw, { prefix: 'contract', pageSize: 3 }), cleanup: () => gw.close() };
});

describe('S3Store against versitygw', { timeout: 300_000 }, () => {
  let gw: VersityGw | undefined;
  let work = '';
  const server = (): VersityGw => {
    assert.ok(gw, 'versitygw did not start');
    return gw;
  };
  const file = async (name: string, data: Buffer) => {
    const path = join(work, name);
    await writeFile(path, data);
    return { path, sha: sha256(data) };
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 's3-store-'));
    gw = await startVersityGw();
  });
  after(async () => {
    await gw?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('keys are relative to the prefix, stored under it', { timeout: 30_000 }, async () => {
    const store = storeFor(server(), { prefix: 'tenant/a' });
    const raw = rawClient(server());
    try {
      const f = await file('prefixed', Buffer.from('prefixed content'));
      await store.putFile('x/1', f.path, {
        sha256: f.sha,
        contentType: 'text/plain',
        metadata: { seq: '1' },
      });
      const listed = await raw.send(
        new ListObjectsV2Command({ Bucket: server().bucket, Prefix: 'tenant/' }),
      );
      assert.deepEqual(
        listed.Contents?.map((c) => c.Key),
        ['tenant/a/x/1'],
      );
      const head = await raw.send(
        new HeadObjectCommand({ Bucket: server().bucket, Key: 'tenant/a/x/1' }),
      );
      assert.equal(head.Metadata?.sha256, f.sha);
      assert.equal(head.ContentType, 'text/plain');
      assert.deepEqual(
        (await collect(store.list(''))).map((i) => i.key),
        ['x/1'],
      );
      assert.equal(store.describe, `s3://${server().bucket}/tenant/a/ at ${server().endpoint}`);
    } finally {
      raw.destroy();
      await store.close();
    }
  });

  test(
    'multipart above the threshold: stored whole and verified',
    { timeout: 120_000 },
    async () => {
      const store = storeFor(server(), {
        multipartThresholdBytes: 5 * MiB,
        partSizeBytes: 5 * MiB,
      });
      const raw = rawClient(server());
      try {
        const data = randomBytes(12 * MiB + 12345);
        const f = await file('multipart', data);
        const opts = { sha256: f.sha, contentType: 'video/mp4', metadata: { kind: 'clip' } };
        assert.deepEqual(await store.putFile('mp/a', f.path, opts), { outcome: 'created' });
        const info = await store.head('mp/a');
        assert.deepEqual(info, {
          key: 'mp/a',
          bytes: data.length,
          sha256: f.sha,
          metadata: { kind: 'clip' },
        });
        assert.equal(sha256(await readAll(await store.get('mp/a'))), f.sha);

        assert.deepEqual(await store.putFile('mp/a', f.path, opts), { outcome: 'exists' });
        const other = await file('multipart-other', randomBytes(6 * MiB));
        await assert.rejects(
          store.putFile('mp/a', other.path, { ...opts, sha256: other.sha }),
          (err: unknown) => err instanceof StoreError && err.name === 'ConflictError',
        );

        const wrong = sha256(Buffer.from('not it'));
        await assert.rejects(
          store.putFile('mp/b', f.path, { ...opts, sha256: wrong }),
          (err: unknown) =>
            err instanceof StoreError && !err.retryable && /sha256/.test(err.message),
        );
        assert.equal(await store.head('mp/b'), null);
        // The refused upload was aborted, not left to collect parts.
        const pending = await raw.send(
          new ListMultipartUploadsCommand({ Bucket: server().bucket }),
        );
        assert.deepEqual(pending.Uploads ?? [], []);
        assert.equal(sha256(await readAll(await store.get('mp/a'))), f.sha);
      } finally {
        raw.destroy();
        await store.close();
      }
    },
  );

  test(
    'a put while the server is down fails as retryable, then works after restart',
    { timeout: 120_000 },
    async () => {
      const store = storeFor(server());
      try {
        const f = await file('outage', randomBytes(100_000));
        await server().stop();
        await assert.rejects(
          store.putFile('outage/a', f.path, { sha256: f.sha, contentType: 'video/mp4' }),
          (err: unknown) => {
            assert.ok(err instanceof StoreError, String(err));
            assert.equal(err.retryable, true);
            assert.match(err.message, /reach/);
            return true;
          },
        );
        await server().restart();
        assert.deepEqual(
          await store.putFile('outage/a', f.path, { sha256: f.sha, contentType: 'video/mp4' }),
          { outcome: 'created' },
        );
        assert.equal((await store.head('outage/a'))?.sha256, f.sha);
      } finally {
        await store.close();
      }
    },
  );

  test(
    'with versitygw keeping metadata in a sidecar folder, puts stay conditional',
    { timeout: 60_000 },
    async (t) => {
      // The mode used where the filesystem has no user xattrs.
      const sidecarGw = await startVersityGw({ sidecar: true });
      t.after(() => sidecarGw.close());
      const store = storeFor(sidecarGw);
      t.after(() => store.close());
      const a = await file('sidecar-a', randomBytes(10_000));
      const b = await file('sidecar-b', randomBytes(10_000));
      const opts = { contentType: 'video/mp4', metadata: { seq: '7' } };
      assert.deepEqual(await store.putFile('k', a.path, { ...opts, sha256: a.sha }), {
        outcome: 'created',
      });
      assert.deepEqual(await store.putFile('k', a.path, { ...opts, sha256: a.sha }), {
        outcome: 'exists',
      });
      await assert.rejects(
        store.putFile('k', b.path, { ...opts, sha256: b.sha }),
        (err: unknown) => err instanceof StoreError && err.name === 'ConflictError',
      );
      assert.deepEqual(await store.head('k'), {
        key: 'k',
        bytes: 10_000,
        sha256: a.sha,
        metadata: { seq: '7' },
      });
    },
  );

  describe('check()', () => {
    const failsWith = async (store: S3Store, message: RegExp, retryable: boolean) => {
      try {
        await assert.rejects(store.check(), (err: unknown) => {
          assert.ok(err instanceof StoreError, String(err));
          assert.match(err.message, message);
          assert.equal(err.retryable, retryable);
          return true;
        });
      } finally {
        await store.close();
      }
    };

    test('passes with the right credentials and bucket', { timeout: 30_000 }, async () => {
      const store = storeFor(server());
      try {
        await store.check();
      } finally {
        await store.close();
      }
    });

    test('a wrong secret key is reported as refused credentials', { timeout: 30_000 }, async () => {
      const gw = server();
      await failsWith(
        storeFor(gw, { credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: 'wrong' } }),
        /credentials were refused.*AWS_SECRET_ACCESS_KEY/,
        false,
      );
    });

    test(
      'an unknown access key is reported as refused credentials',
      { timeout: 30_000 },
      async () => {
        await failsWith(
          storeFor(server(), {
            credentials: { accessKeyId: 'nobody', secretAccessKey: 'nothing' },
          }),
          /credentials were refused.*AWS_ACCESS_KEY_ID/,
          false,
        );
      },
    );

    test('a missing bucket is reported as missing', { timeout: 30_000 }, async () => {
      await failsWith(
        storeFor(server(), { bucket: 'no-such-bucket' }),
        /bucket no-such-bucket does not exist/,
        false,
      );
    });

    test(
      'an endpoint where nothing listens is unreachable and retryable',
      { timeout: 30_000 },
      async () => {
        const port = await freeTcpPort();
        const gw = server();
        await failsWith(
          new S3Store({
            bucket: gw.bucket,
            region: gw.region,
            endpoint: `http://127.0.0.1:${port}`,
            credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey },
          }),
          /cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/,
          true,
        );
      },
    );
  });

  test(
    'metadata that S3 cannot carry is refused before uploading',
    { timeout: 30_000 },
    async () => {
      const store = storeFor(server());
      try {
        const f = await file('meta', Buffer.from('m'));
        const refusedMetadata: Record<string, string>[] = [
          { Upper: 'x' },
          { ok: 'é' },
          { sha256: f.sha },
        ];
        for (const metadata of refusedMetadata) {
          await assert.rejects(
            store.putFile('meta/a', f.path, { sha256: f.sha, contentType: 'text/plain', metadata }),
            (err: unknown) => err instanceof StoreError && !err.retryable,
          );
        }
        assert.equal(await store.head('meta/a'), null);
      } finally {
        await store.close();
      }
    },
  );
});
