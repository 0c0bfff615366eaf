import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { snippetKey, KeyError, type Variant } from '../../../src/domain/snippet-key.ts';
import { FsStore } from '../../../src/delivery/store/fs-store.ts';
import {
  NotFoundError,
  type ListOptions,
  type ObjectInfo,
  type ObjectStore,
} from '../../../src/delivery/store/port.ts';
import {
  listSnippets,
  openSnippet,
  type ListSnippetsOptions,
} from '../../../src/delivery/store/snippet-index.ts';
import { readAll } from './contract.ts';

const T0 = Date.UTC(2026, 10, 30, 8, 45, 0);
const STEP = 15_000;
const LIVE = 'live1';
const TRACK = 'host-alice';

/** Camera on for seq 0-7 and 12-13 (mp4), off for 8-11 (mp3); one snippet every 15 s. */
const SNIPPETS = Array.from({ length: 14 }, (_, seq) => ({
  seq,
  startMs: T0 + seq * STEP,
  variant: (seq >= 8 && seq <= 11 ? 'mp3' : 'mp4') as Variant,
}));

/** Records which keys the listing pulled from the store, to prove it stops early. */
class CountingStore implements ObjectStore {
  pulled: string[] = [];
  constructor(private readonly inner: ObjectStore) {}
  get describe() {
    return this.inner.describe;
  }
  check() {
    return this.inner.check();
  }
  locate(key: string) {
    return this.inner.locate(key);
  }
  putFile(...args: Parameters<ObjectStore['putFile']>) {
    return this.inner.putFile(...args);
  }
  head(key: string) {
    return this.inner.head(key);
  }
  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ObjectInfo> {
    for await (const info of this.inner.list(prefix, opts)) {
      this.pulled.push(info.key);
      yield info;
    }
  }
  get(key: string) {
    return this.inner.get(key);
  }
  close() {
    return this.inner.close();
  }
}

describe('snippet index over the filesystem store', { timeout: 60_000 }, () => {
  let root = '';
  let store: CountingStore;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'snippet-index-'));
    store = new CountingStore(new FsStore(join(root, 'store')));
    for (const s of SNIPPETS) {
      const body = Buffer.from(`${s.variant} snippet ${s.seq}`);
      const path = join(root, `src-${s.seq}`);
      await writeFile(path, body);
      await store.putFile(snippetKey({ livestreamId: LIVE, track: TRACK, ...s }), path, {
        sha256: createHash('sha256').update(body).digest('hex'),
        contentType: s.variant === 'mp4' ? 'video/mp4' : 'audio/mpeg',
      });
    }
    // Neither a snippet nor another track: must not show up.
    const other = join(root, 'other');
    await writeFile(other, 'x');
    const sha = createHash('sha256').update('x').digest('hex');
    for (const key of [
      `${LIVE}/${TRACK}/mp4/notes.txt`,
      `${LIVE}/composite/mp4/x`,
      `${LIVE}/host-alice2/mp4/x`,
    ])
      await store.putFile(key, other, { sha256: sha, contentType: 'text/plain' });
  });
  after(() => rm(root, { recursive: true, force: true }));

  const seqs = async (opts: Partial<ListSnippetsOptions>) => {
    store.pulled = [];
    const out: string[] = [];
    for await (const s of listSnippets(store, { livestreamId: LIVE, track: TRACK, ...opts }))
      out.push(`${s.variant}:${s.seq}`);
    return out;
  };
  const expect = (...list: number[]) => list.map((seq) => `${SNIPPETS[seq]?.variant}:${seq}`);

  test(
    'without a range: every snippet of the track, both variants in time order',
    { timeout: 10_000 },
    async () => {
      assert.deepEqual(await seqs({}), expect(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13));
      const first = await listSnippets(store, { livestreamId: LIVE, track: TRACK }).next();
      assert.deepEqual(first.value, {
        key: `${LIVE}/${TRACK}/mp4/20261130T084500.000Z_000000.mp4`,
        startMs: T0,
        seq: 0,
        variant: 'mp4',
        bytes: Buffer.byteLength('mp4 snippet 0'),
      });
    },
  );

  test(
    'a range starting on a snippet includes the one before (it may still run)',
    { timeout: 10_000 },
    async () => {
      // Starts in [T0+45s-16s, T0+90s): seq 2 (T0+30 s) to 5; seq 6 starts at toMs, excluded.
      assert.deepEqual(
        await seqs({ fromMs: T0 + 3 * STEP, toMs: T0 + 6 * STEP }),
        expect(2, 3, 4, 5),
      );
    },
  );

  test('maxSnippetMs sets how far back a start may lie', { timeout: 10_000 }, async () => {
    const range = { fromMs: T0 + 3 * STEP, toMs: T0 + 6 * STEP };
    assert.deepEqual(await seqs({ ...range, maxSnippetMs: STEP }), expect(2, 3, 4, 5));
    assert.deepEqual(await seqs({ ...range, maxSnippetMs: STEP - 1 }), expect(3, 4, 5));
    assert.deepEqual(await seqs({ ...range, maxSnippetMs: 0 }), expect(3, 4, 5));
  });

  test('the end is exclusive to the millisecond', { timeout: 10_000 }, async () => {
    assert.deepEqual(await seqs({ toMs: T0 }), []);
    assert.deepEqual(await seqs({ toMs: T0 + 1 }), expect(0));
    assert.deepEqual(
      await seqs({ fromMs: T0 + 13 * STEP, toMs: T0 + 13 * STEP + 1 }),
      expect(12, 13),
    );
  });

  test('ranges across a camera switch merge mp4 and mp3', { timeout: 10_000 }, async () => {
    assert.deepEqual(await seqs({ fromMs: T0 + 100_000, toMs: T0 + 150_000 }), expect(6, 7, 8, 9));
    assert.deepEqual(await seqs({ fromMs: T0 + 160_000, toMs: T0 + 190_000 }), expect(10, 11, 12));
  });

  test('one variant only', { timeout: 10_000 }, async () => {
    assert.deepEqual(await seqs({ variant: 'mp3' }), expect(8, 9, 10, 11));
    assert.deepEqual(
      await seqs({ variant: 'mp4', fromMs: T0 + 100_000, toMs: T0 + 200_000 }),
      expect(6, 7, 12, 13),
    );
  });

  test('ranges outside the recording are empty', { timeout: 10_000 }, async () => {
    assert.deepEqual(await seqs({ fromMs: T0 - 3_600_000, toMs: T0 - 60_000 }), []);
    assert.deepEqual(await seqs({ fromMs: T0 + 14 * STEP + 16_001 }), []);
    assert.deepEqual(await seqs({ fromMs: T0 + 5 * STEP, toMs: T0 + 5 * STEP }), []);
  });

  test(
    'the listing starts near fromMs and stops at the first key past toMs',
    { timeout: 10_000 },
    async () => {
      assert.deepEqual(
        await seqs({ variant: 'mp4', fromMs: T0 + 5 * STEP, toMs: T0 + 6 * STEP }),
        expect(4, 5),
      );
      const key = (seq: number) =>
        snippetKey({ livestreamId: LIVE, track: TRACK, ...SNIPPETS[seq]! });
      assert.deepEqual(store.pulled, [key(4), key(5), key(6)]);

      assert.deepEqual(await seqs({ fromMs: T0, toMs: T0 + 2 * STEP }), expect(0, 1));
      assert.deepEqual(store.pulled.sort(), [key(0), key(1), key(2), key(8)].sort());
    },
  );

  test('a caller that stops reading stops the store listings', { timeout: 10_000 }, async () => {
    store.pulled = [];
    for await (const s of listSnippets(store, { livestreamId: LIVE, track: TRACK })) {
      if (s.seq === 1) break;
    }
    assert.ok(store.pulled.length <= 4, store.pulled.join(' '));
  });

  test('openSnippet streams the content', { timeout: 10_000 }, async () => {
    const key = snippetKey({ livestreamId: LIVE, track: TRACK, ...SNIPPETS[9]! });
    assert.equal((await readAll(await openSnippet(store, key))).toString(), 'mp3 snippet 9');
    const absent = snippetKey({
      livestreamId: LIVE,
      track: TRACK,
      seq: 99,
      startMs: T0,
      variant: 'mp4',
    });
    await assert.rejects(openSnippet(store, absent), NotFoundError);
    await assert.rejects(
      async () => openSnippet(store, `${LIVE}/${TRACK}/mp4/notes.txt`),
      KeyError,
    );
  });

  test('ids are checked before touching the store', { timeout: 10_000 }, async () => {
    await assert.rejects(seqs({ livestreamId: '../x' }), /not a valid id/);
    await assert.rejects(seqs({ track: 'guest' }), KeyError);
  });
});
