import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { FsStore } from '../../../src/delivery/store/fs-store.ts';
import { StoreError } from '../../../src/delivery/store/port.ts';
import { collect, readAll, runStoreContract, sha256 } from './contract.ts';

runStoreContract('fs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'fs-store-'));
  return { store: new FsStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('FsStore', { timeout: 120_000 }, () => {
  let work = '';
  let root = '';
  let store: FsStore;
  let source = '';
  let sourceSha = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'fs-store-own-'));
    root = join(work, 'root');
    store = new FsStore(root);
    source = join(work, 'source');
    await writeFile(source, 'snippet bytes');
    sourceSha = sha256(Buffer.from('snippet bytes'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  test('check() creates a missing root folder', { timeout: 10_000 }, async () => {
    await store.check();
    assert.deepEqual(await readdir(root), []);
  });

  test('check() fails clearly when the root is a file', { timeout: 10_000 }, async () => {
    const notDir = join(work, 'plain-file');
    await writeFile(notDir, 'x');
    await assert.rejects(new FsStore(notDir).check(), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.retryable, false);
      assert.match(err.message, /plain-file/);
      return true;
    });
  });

  const badKeys = [
    '',
    '../escape',
    'a/../../escape',
    'a/..',
    '/etc/passwd',
    'a//b',
    'a/b/',
    'a/./b',
    '.hidden',
    'a/.a.tmp-123',
    'a/\0b',
  ];
  for (const key of badKeys) {
    test(`refuses the key ${JSON.stringify(key)}`, { timeout: 10_000 }, async () => {
      const refused = (err: unknown) => {
        assert.ok(err instanceof StoreError, String(err));
        assert.equal(err.retryable, false);
        assert.match(err.message, /not allowed/);
        return true;
      };
      await assert.rejects(
        store.putFile(key, source, { sha256: sourceSha, contentType: 'text/plain' }),
        refused,
      );
      await assert.rejects(store.head(key), refused);
      await assert.rejects(store.get(key), refused);
    });
  }

  test('nothing is written outside the root', { timeout: 10_000 }, async () => {
    assert.deepEqual((await readdir(work)).sort(), ['plain-file', 'root', 'source']);
  });

  test('temporary files and sidecars stay out of listings', { timeout: 10_000 }, async () => {
    await store.putFile('hidden/a', source, {
      sha256: sourceSha,
      contentType: 'text/plain',
      metadata: { k: 'v' },
    });
    // As left behind by a crash in the middle of a put.
    await writeFile(join(root, 'hidden', '.b.tmp-abcdef'), 'half');
    const onDisk = (await readdir(join(root, 'hidden'))).sort();
    assert.ok(
      onDisk.some((name) => name.endsWith('.meta')),
      onDisk.join(' '),
    );
    assert.deepEqual(
      (await collect(store.list('hidden/'))).map((i) => i.key),
      ['hidden/a'],
    );
    assert.deepEqual((await collect(store.list('hidden/.'))).length, 0);
  });

  test(
    'a file placed by hand is an object with a computed sha256',
    { timeout: 10_000 },
    async () => {
      await store.check();
      await writeFile(join(root, 'by-hand'), 'placed without the store');
      const info = await store.head('by-hand');
      assert.deepEqual(info, {
        key: 'by-hand',
        bytes: 24,
        sha256: sha256(Buffer.from('placed without the store')),
        metadata: {},
      });
      assert.equal(
        (await readAll(await store.get('by-hand'))).toString(),
        'placed without the store',
      );
    },
  );

  test('a key below an existing object is refused without retry', { timeout: 10_000 }, async () => {
    await store.putFile('obj', source, { sha256: sourceSha, contentType: 'text/plain' });
    await assert.rejects(
      store.putFile('obj/below', source, { sha256: sourceSha, contentType: 'text/plain' }),
      (err: unknown) => err instanceof StoreError && !err.retryable,
    );
    assert.equal(await store.head('obj/below'), null);
  });

  test('a missing source file is a non-retryable error', { timeout: 10_000 }, async () => {
    await assert.rejects(
      store.putFile('missing-source', join(work, 'nope'), {
        sha256: sourceSha,
        contentType: 'text/plain',
      }),
      (err: unknown) => err instanceof StoreError && !err.retryable,
    );
    assert.equal(await store.head('missing-source'), null);
  });

  test('describe names the folder', { timeout: 10_000 }, () => {
    assert.equal(store.describe, `file://${root}`);
  });

  test('a handed-over file is linked in; any other is copied', { timeout: 10_000 }, async () => {
    const given = join(work, 'given');
    await writeFile(given, 'handed over');
    const sha = sha256(Buffer.from('handed over'));
    await store.putFile('linked', given, {
      sha256: sha,
      contentType: 'text/plain',
      handOver: true,
    });
    assert.equal((await stat(join(root, 'linked'))).ino, (await stat(given)).ino);
    assert.equal((await stat(given)).nlink, 2);

    const kept = join(work, 'kept');
    await writeFile(kept, 'handed over');
    await store.putFile('copied', kept, { sha256: sha, contentType: 'text/plain' });
    assert.notEqual((await stat(join(root, 'copied'))).ino, (await stat(kept)).ino);
    // Without a hand-over the caller may go on writing its file.
    await writeFile(kept, 'changed afterwards');
    assert.equal((await readAll(await store.get('copied'))).toString(), 'handed over');
  });

  test('a handed-over file on another filesystem is copied', { timeout: 10_000 }, async (t) => {
    const other = '/dev/shm';
    const dev = await stat(other).then(
      (s) => s.dev,
      () => undefined,
    );
    if (dev === undefined || dev === (await stat(work)).dev) {
      t.skip(`${other} is missing or on the store's filesystem: no second filesystem to test`);
      return;
    }
    const dir = await mkdtemp(join(other, 'fs-store-other-'));
    try {
      const given = join(dir, 'given');
      await writeFile(given, 'from another filesystem');
      const sha = sha256(Buffer.from('from another filesystem'));
      for (const key of ['elsewhere/a', 'elsewhere/b']) {
        const put = await store.putFile(key, given, {
          sha256: sha,
          contentType: 'text/plain',
          metadata: { k: key },
          handOver: true,
        });
        assert.deepEqual(put, { outcome: 'created' });
        const info = await store.head(key);
        assert.deepEqual(info?.metadata, { k: key });
        assert.equal(info?.sha256, sha);
      }
      assert.equal((await stat(given)).nlink, 1);
      await rm(given);
      assert.equal(
        (await readAll(await store.get('elsewhere/a'))).toString(),
        'from another filesystem',
      );
      const hidden = (await readdir(join(root, 'elsewhere'))).filter((n) => n.startsWith('.'));
      assert.equal(hidden.length, 2, `one sidecar per object, nothing else: ${hidden.join(' ')}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
