import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  ConflictError,
  NotFoundError,
  StoreError,
  type ObjectInfo,
  type ObjectStore,
} from '../../../src/delivery/store/port.ts';

export interface StoreFixture {
  store: ObjectStore;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** Size of the object a reader polls while it is being written. Default 20 MB. */
  largeBytes?: number;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of iterable) out.push(info);
  return out;
}

async function keysOf(iterable: AsyncIterable<ObjectInfo>): Promise<string[]> {
  return (await collect(iterable)).map((i) => i.key);
}

/**
 * The promises every ObjectStore makes (see src/delivery/store/port.ts), run
 * against a real store. Each test works under its own key prefix, so the
 * tests share one store without seeing each other's objects.
 */
export function runStoreContract(
  name: string,
  setup: () => Promise<StoreFixture>,
  options: ContractOptions = {},
): void {
  describe(`ObjectStore contract: ${name}`, { timeout: 300_000 }, () => {
    let fixture: StoreFixture | undefined;
    let dir = '';
    let n = 0;
    const store = (): ObjectStore => {
      assert.ok(fixture, 'setup failed');
      return fixture.store;
    };
    /** A local file with `data`; returns its path and sha256. */
    const file = async (data: Buffer): Promise<{ path: string; sha: string }> => {
      const path = join(dir, `src-${n++}`);
      await writeFile(path, data);
      return { path, sha: sha256(data) };
    };
    const put = async (key: string, data: Buffer, metadata: Record<string, string> = {}) => {
      const f = await file(data);
      return store().putFile(key, f.path, {
        sha256: f.sha,
        contentType: 'application/octet-stream',
        metadata,
      });
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'store-contract-'));
      fixture = await setup();
    });
    after(async () => {
      await fixture?.store.close();
      await fixture?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('check() passes on a working store', { timeout: 30_000 }, async () => {
      await store().check();
    });

    test(
      'put, then head, get and list return the same bytes and sha256',
      { timeout: 60_000 },
      async () => {
        const data = randomBytes(300_000);
        const key = 'roundtrip/live1/composite/mp4/20261130T084512.000Z_000001.mp4';
        const result = await put(key, data, { livestream: 'live1', seq: '1' });
        assert.deepEqual(result, { outcome: 'created' });

        const info = await store().head(key);
        assert.ok(info);
        assert.equal(info.key, key);
        assert.equal(info.bytes, data.length);
        assert.equal(info.sha256, sha256(data));
        assert.deepEqual(info.metadata, { livestream: 'live1', seq: '1' });

        const back = await readAll(await store().get(key));
        assert.equal(back.length, data.length);
        assert.equal(sha256(back), sha256(data));

        const listed = await collect(store().list('roundtrip/'));
        assert.deepEqual(
          listed.map((i) => [i.key, i.bytes]),
          [[key, data.length]],
        );
        // list may leave sha256 empty (S3); when it fills it in, it must be right.
        const listedSha = listed[0]?.sha256;
        assert.ok(listedSha === '' || listedSha === sha256(data), `list sha256 ${listedSha}`);
      },
    );

    test(
      'head is null and get throws NotFoundError for an absent key',
      { timeout: 30_000 },
      async () => {
        assert.equal(await store().head('absent/nothing-here'), null);
        await assert.rejects(store().get('absent/nothing-here'), NotFoundError);
      },
    );

    test('putting the same content twice answers "exists"', { timeout: 60_000 }, async () => {
      const data = randomBytes(50_000);
      assert.deepEqual(await put('twice/a', data), { outcome: 'created' });
      assert.deepEqual(await put('twice/a', data), { outcome: 'exists' });
      assert.deepEqual(await keysOf(store().list('twice/')), ['twice/a']);
    });

    test(
      'different content under an existing key is refused and the original kept',
      { timeout: 60_000 },
      async () => {
        const original = randomBytes(40_000);
        const other = randomBytes(40_000);
        await put('conflict/a', original);
        await assert.rejects(put('conflict/a', other), (err: unknown) => {
          assert.ok(err instanceof ConflictError, String(err));
          assert.equal(err.retryable, false);
          return true;
        });
        const info = await store().head('conflict/a');
        assert.equal(info?.sha256, sha256(original));
        assert.equal(info?.bytes, original.length);
        assert.equal(sha256(await readAll(await store().get('conflict/a'))), sha256(original));
      },
    );

    test('a wrong sha256 is refused and leaves nothing visible', { timeout: 60_000 }, async () => {
      const f = await file(randomBytes(70_000));
      const wrong = sha256(Buffer.from('something else'));
      await assert.rejects(
        store().putFile('badsha/a', f.path, { sha256: wrong, contentType: 'video/mp4' }),
        (err: unknown) => {
          assert.ok(err instanceof StoreError, String(err));
          assert.ok(!(err instanceof ConflictError));
          assert.equal(err.retryable, false);
          return true;
        },
      );
      assert.equal(await store().head('badsha/a'), null);
      assert.deepEqual(await keysOf(store().list('badsha/')), []);
      // The key stays usable for the right content.
      assert.deepEqual(
        await store().putFile('badsha/a', f.path, { sha256: f.sha, contentType: 'video/mp4' }),
        { outcome: 'created' },
      );
    });

    test(
      'a handed-over file is stored whole and stays when the caller removes it',
      { timeout: 60_000 },
      async () => {
        const data = randomBytes(500_000);
        const f = await file(data);
        const meta = { track: 'host-h1', seq: '7' };
        const opts = { sha256: f.sha, contentType: 'video/mp4', metadata: meta, handOver: true };
        const results = await Promise.all(
          Array.from({ length: 3 }, () => store().putFile('handover/a', f.path, opts)),
        );
        for (const r of results) assert.ok(['created', 'exists'].includes(r.outcome), r.outcome);
        assert.ok(results.some((r) => r.outcome === 'created'));
        await rm(f.path);
        const info = await store().head('handover/a');
        assert.equal(info?.sha256, f.sha);
        assert.equal(info?.bytes, data.length);
        // Racing puts of the one file must not cost the object its metadata.
        assert.deepEqual(info?.metadata, meta);
        assert.equal(sha256(await readAll(await store().get('handover/a'))), f.sha);
        assert.deepEqual(await keysOf(store().list('handover/')), ['handover/a']);
        assert.deepEqual(await put('handover/a', data), { outcome: 'exists' });
        await assert.rejects(put('handover/a', randomBytes(10)), ConflictError);
      },
    );

    describe('list', () => {
      // Chosen so that folder-by-folder order would differ from byte order:
      // "-" (0x2D) and "." (0x2E) sort before "/" (0x2F), "0" after it.
      const keys = ['ls/a', 'ls/b-c', 'ls/b.d', 'ls/b/x', 'ls/b/y/z', 'ls/b0', 'ls/bz/q', 'ls/c'];
      before(async () => {
        for (const key of [...keys].reverse()) await put(key, Buffer.from(key));
        await put('ls-other/a', Buffer.from('outside the prefix'));
      });

      test('returns keys in byte order with sizes', { timeout: 60_000 }, async () => {
        const listed = await collect(store().list('ls/'));
        assert.deepEqual(
          listed.map((i) => i.key),
          keys,
        );
        assert.deepEqual(
          listed.map((i) => i.bytes),
          keys.map((k) => Buffer.byteLength(k)),
        );
      });

      test('takes prefixes that end inside a name', { timeout: 60_000 }, async () => {
        assert.deepEqual(await keysOf(store().list('ls/b')), [
          'ls/b-c',
          'ls/b.d',
          'ls/b/x',
          'ls/b/y/z',
          'ls/b0',
          'ls/bz/q',
        ]);
        assert.deepEqual(await keysOf(store().list('ls/b/')), ['ls/b/x', 'ls/b/y/z']);
        assert.deepEqual(await keysOf(store().list('ls/b/y/z')), ['ls/b/y/z']);
        assert.deepEqual(await keysOf(store().list('ls/nothing')), []);
        assert.deepEqual(await keysOf(store().list('nowhere/at/all/')), []);
        assert.deepEqual(await keysOf(store().list('ls')), ['ls-other/a', ...keys]);
      });

      test('starts strictly after startAfter', { timeout: 60_000 }, async () => {
        const after = async (startAfter: string) => keysOf(store().list('ls/', { startAfter }));
        assert.deepEqual(await after('ls/b-c'), keys.slice(2));
        assert.deepEqual(await after('ls/b/'), keys.slice(3));
        assert.deepEqual(await after('ls/b'), keys.slice(1));
        assert.deepEqual(await after('ls/b/x'), keys.slice(4));
        assert.deepEqual(await after('ls/b/y'), keys.slice(4));
        assert.deepEqual(await after('ls/bz/q'), ['ls/c']);
        assert.deepEqual(await after('ls/c'), []);
        assert.deepEqual(await after('a'), keys);
        assert.deepEqual(await after('ls/b/x/'), keys.slice(4));
      });

      test('stops after limit keys', { timeout: 60_000 }, async () => {
        assert.deepEqual(await keysOf(store().list('ls/', { limit: 3 })), keys.slice(0, 3));
        assert.deepEqual(await keysOf(store().list('ls/', { startAfter: 'ls/b.d', limit: 2 })), [
          'ls/b/x',
          'ls/b/y/z',
        ]);
        assert.deepEqual(await keysOf(store().list('ls/', { limit: 100 })), keys);
      });

      test('stopping early is allowed', { timeout: 60_000 }, async () => {
        const seen: string[] = [];
        for await (const info of store().list('ls/')) {
          seen.push(info.key);
          if (seen.length === 2) break;
        }
        assert.deepEqual(seen, keys.slice(0, 2));
      });
    });

    test(
      'concurrent puts of one key with the same content all succeed, one object stays',
      { timeout: 60_000 },
      async () => {
        const data = randomBytes(2_000_000);
        const f = await file(data);
        const results = await Promise.all(
          Array.from({ length: 4 }, () =>
            store().putFile('race/a', f.path, { sha256: f.sha, contentType: 'video/mp4' }),
          ),
        );
        for (const r of results) assert.ok(['created', 'exists'].includes(r.outcome), r.outcome);
        assert.ok(results.some((r) => r.outcome === 'created'));
        const listed = await collect(store().list('race/'));
        assert.deepEqual(
          listed.map((i) => [i.key, i.bytes]),
          [['race/a', data.length]],
        );
        assert.equal((await store().head('race/a'))?.sha256, f.sha);
        assert.equal(sha256(await readAll(await store().get('race/a'))), f.sha);
      },
    );

    test(
      'a reader polling during a large put never sees a partial object',
      { timeout: 240_000 },
      async () => {
        const size = options.largeBytes ?? 20_000_000;
        const data = randomBytes(size);
        const f = await file(data);
        const key = 'large/live1/composite/mp4/20261130T084512.000Z_000001.mp4';
        let done = false;
        const putting = store()
          .putFile(key, f.path, { sha256: f.sha, contentType: 'video/mp4' })
          .finally(() => (done = true));
        const observations = { absent: 0, whole: 0 };
        const inspect = async () => {
          const info = await store().head(key);
          const listed = await collect(store().list('large/'));
          if (info === null) {
            observations.absent++;
          } else {
            assert.equal(info.bytes, size, 'head saw a partial object');
            assert.equal(info.sha256, f.sha);
            const body = await readAll(await store().get(key));
            assert.equal(body.length, size, 'get returned a partial object');
            assert.equal(sha256(body), f.sha);
            observations.whole++;
          }
          for (const item of listed) assert.equal(item.bytes, size, 'list saw a partial object');
        };
        while (!done) {
          await inspect();
          await sleep(5);
        }
        assert.deepEqual(await putting, { outcome: 'created' });
        await inspect();
        assert.ok(observations.whole > 0);
      },
    );
  });
}
