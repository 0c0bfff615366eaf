import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Deliverer, type DeliveredSnippet } from '../../src/delivery/deliverer.ts';
import { JOURNAL_FILE, type JournalEntry } from '../../src/delivery/spool-journal.ts';
import { FsStore } from '../../src/delivery/store/fs-store.ts';
import type { CloudEvent } from '../../src/domain/cloudevent.ts';
import { assertSnippetReady, type SnippetReady } from '../../src/domain/snippet-event.ts';
import { parseSnippetKey } from '../../src/domain/snippet-key.ts';
import { defaultProfile } from '../../src/domain/profile.ts';
import { syntheticHost } from '../../src/media/synthetic-recording.ts';
import { recordAndDeliver } from '../../src/recorder/record-and-deliver.ts';
import { sessionFor } from '../../src/recorder/session.ts';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { tempDir } from '../support/tapedeck.ts';

const T = { timeout: 180_000 };
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Collects what would go to the outbox; the outbox and buses have their own suites. */
function collectingSink() {
  const events: CloudEvent<SnippetReady>[] = [];
  return {
    events,
    add: async (e: CloudEvent) => {
      assertSnippetReady(e);
      events.push(e);
    },
  };
}

async function setup(name: string) {
  const root = await tempDir(name);
  dirs.push(root);
  const store = new FsStore(join(root, 'store'));
  const sink = collectingSink();
  const delivered: DeliveredSnippet[] = [];
  const quarantined: { path: string; reason: string }[] = [];
  const make = () => {
    const d = new Deliverer({
      spoolRoot: join(root, 'spool'),
      quarantineRoot: join(root, 'quarantine'),
      store,
      outbox: sink,
    });
    d.on('delivered', (s) => delivered.push(s));
    d.on('quarantined', (q) => quarantined.push(q));
    return d;
  };
  return { root, store, sink, delivered, quarantined, make };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test(
  'every snippet of a recording lands in the store under its key and matches its event',
  T,
  async () => {
    const { root, store, sink, delivered, make } = await setup('deliver');
    const deliverer = make();
    await deliverer.start();
    const spec = {
      kind: 'host' as const,
      recordingId: 'host-h1',
      profile: { ...defaultProfile({ width: 640, height: 360 }), snippetSeconds: 3 },
      inputs: [syntheticHost(1)],
    };
    const summary = await recordAndDeliver({
      livestreamId: 'show-1',
      spec,
      deliverer,
      durationSec: 7,
    });
    assert.equal(await deliverer.drain(30_000), true);
    await deliverer.close();
    assert.equal(summary.snippets.length, 3);
    assert.equal(delivered.length, 3);
    assert.equal(sink.events.length, 3);
    const bySeq = [...sink.events].sort((a, b) => a.data.seq - b.data.seq);
    for (const [i, e] of bySeq.entries()) {
      const closed = summary.snippets[i]!;
      const k = parseSnippetKey(e.data.key);
      assert.deepEqual(
        [k.livestreamId, k.track, k.variant, k.seq],
        ['show-1', 'host-h1', 'mp4', i],
      );
      assert.equal(
        k.startMs,
        Math.floor(Number(BigInt(closed.startUtcNs) / 1_000_000n)),
        'key time is the pipeline clock',
      );
      assert.equal(e.data.start, new Date(k.startMs).toISOString());
      const object = await readFile(join(root, 'store', e.data.key));
      assert.equal(sha(object), e.data.sha256);
      assert.equal(object.length, e.data.bytes);
      assert.equal((await store.head(e.data.key))?.sha256, e.data.sha256);
      // Measured by the worker as recorded, two a second, for scoring.
      const pictures = e.data.pictures ?? [];
      assert.ok(
        Math.abs(pictures.length - e.data.durationMs / 500) <= 1,
        `${pictures.length} pictures in ${e.data.durationMs} ms`,
      );
      assert.deepEqual(pictures, closed.pictures, "the worker's pictures, as it sent them");
      if (i > 0)
        assert.equal(
          e.data.start,
          bySeq[i - 1]!.data.end,
          'each snippet starts where the last ended',
        );
    }
    assert.deepEqual(
      bySeq.slice(0, 2).map((e) => e.data.durationMs),
      [3000, 3000],
    );
    const probed = await probeMedia(join(root, 'store', bySeq[0]!.data.key));
    assert.equal(probed.video?.width, 640);
    assert.deepEqual(
      await readdir(join(root, 'spool', 'show-1')),
      [],
      'the spool is empty once all is delivered',
    );
  },
);

test(
  'start-up delivers leftovers: closed files as they are, cut files trimmed, junk set aside with a reason',
  T,
  async () => {
    const { root, sink, delivered, quarantined, make } = await setup('leftovers');
    // Real snippets to leave behind, from a short recording.
    const first = make();
    await first.start();
    const spec = {
      kind: 'host' as const,
      recordingId: 'host-h2',
      profile: { ...defaultProfile({ width: 640, height: 360 }), snippetSeconds: 3 },
      inputs: [syntheticHost(2)],
    };
    await recordAndDeliver({ livestreamId: 'show-2', spec, deliverer: first, durationSec: 4 });
    await first.drain(30_000);
    await first.close();
    const good = join(root, 'store', sink.events[0]!.data.key);
    sink.events.length = 0;
    delivered.length = 0;

    // A crashed run of another recording: seq 0 closed, seq 1 cut mid-write, seq 2 garbage, seq 3 no journal entry.
    const dir = join(root, 'spool', 'show-2', 'host-h3');
    await mkdir(dir, { recursive: true });
    const t0 = 1_796_000_000_000_000_000n;
    const s3 = 3_000_000_000n;
    const session = sessionFor('show-2', {
      ...spec,
      recordingId: 'host-h3',
      inputs: [syntheticHost(3)],
    });
    const lines: JournalEntry[] = [
      { t: 'session', at: new Date().toISOString(), ...session },
      { t: 'worker', pid: 999_999_999 },
      { t: 'opened', seq: 0, file: 'host-h3_000000.mp4', startUtcNs: String(t0) },
      {
        t: 'closed',
        seq: 0,
        file: 'host-h3_000000.mp4',
        startUtcNs: String(t0),
        endUtcNs: String(t0 + s3),
      },
      { t: 'opened', seq: 1, file: 'host-h3_000001.mp4', startUtcNs: String(t0 + s3) },
      { t: 'opened', seq: 2, file: 'host-h3_000002.mp4', startUtcNs: String(t0 + 2n * s3) },
    ];
    await writeFile(
      join(dir, JOURNAL_FILE),
      lines.map((l) => JSON.stringify(l)).join('\n') + '\n{"t":"ope',
    );
    await copyFile(good, join(dir, 'host-h3_000000.mp4'));
    await copyFile(good, join(dir, 'host-h3_000001.mp4'));
    await appendFile(join(dir, 'host-h3_000001.mp4'), Buffer.alloc(30_000, 9));
    await writeFile(join(dir, 'host-h3_000002.mp4'), 'not a video');
    await copyFile(good, join(dir, 'host-h3_000003.mp4'));

    const second = make();
    await second.start();
    assert.equal(await second.drain(30_000), true);
    await second.close();
    const seqs = delivered.map((d) => [d.seq, d.recovered]).sort();
    assert.deepEqual(seqs, [
      [0, false],
      [1, true],
    ]);
    const recovered = sink.events.find((e) => e.data.seq === 1)!;
    assert.equal(recovered.data.recovered, true);
    assert.equal(recovered.data.start, new Date(Number((t0 + s3) / 1_000_000n)).toISOString());
    assert.equal(await decodeErrors(join(root, 'store', recovered.data.key)), '');
    assert.equal(quarantined.length, 2);
    const reasons = Object.fromEntries(
      await Promise.all(
        quarantined.map(
          async (q) =>
            [q.path.split('/').at(-1), await readFile(`${q.path}.reason.txt`, 'utf8')] as const,
        ),
      ),
    );
    assert.match(reasons['host-h3_000002.mp4']!, /not a valid MP4 snippet/);
    assert.match(reasons['host-h3_000003.mp4']!, /no start time/);

    // A third start finds nothing left to do: no object or event twice.
    delivered.length = 0;
    const third = make();
    await third.start();
    assert.equal(await third.drain(10_000), true);
    await third.close();
    assert.equal(delivered.length, 0);

    // The next run of that recording numbers on after the file set aside as 3: a new snippet 3
    // would be taken for the one set aside and never delivered.
    const fourth = make();
    await fourth.start();
    assert.equal((await fourth.openRecording(session)).startIndex, 4);
    await fourth.close();
  },
);

test(
  'a snippet already in the store (crash after the upload) is announced with the same id, not stored twice',
  T,
  async () => {
    const { root, sink, delivered, make } = await setup('redo');
    const first = make();
    await first.start();
    const spec = {
      kind: 'audio' as const,
      recordingId: 'host-h1-audio',
      profile: { ...defaultProfile({ width: 640, height: 360 }), snippetSeconds: 3 },
      inputs: [syntheticHost(1)],
    };
    await recordAndDeliver({ livestreamId: 'show-3', spec, deliverer: first, durationSec: 4 });
    await first.drain(30_000);
    await first.close();
    const event = sink.events.find((e) => e.data.seq === 0)!;
    // Put the file and its journal back as if the process died right after the store confirmed it.
    const dir = join(root, 'spool', 'show-3', 'host-h1-audio');
    await mkdir(dir, { recursive: true });
    const session = sessionFor('show-3', spec);
    const startNs = BigInt(Date.parse(event.data.start)) * 1_000_000n;
    const endNs = BigInt(Date.parse(event.data.end)) * 1_000_000n;
    await writeFile(
      join(dir, JOURNAL_FILE),
      [
        { t: 'session', at: new Date().toISOString(), ...session },
        { t: 'opened', seq: 0, file: 'host-h1-audio_000000.mp3', startUtcNs: String(startNs) },
        {
          t: 'closed',
          seq: 0,
          file: 'host-h1-audio_000000.mp3',
          startUtcNs: String(startNs),
          endUtcNs: String(endNs),
        },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n',
    );
    await copyFile(join(root, 'store', event.data.key), join(dir, 'host-h1-audio_000000.mp3'));
    delivered.length = 0;
    const again = make();
    await again.start();
    assert.equal(await again.drain(10_000), true);
    await again.close();
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0]!.outcome, 'exists');
    assert.equal(delivered[0]!.eventId, event.id, 'the same snippet is announced with the same id');
    assert.deepEqual(
      await readdir(join(root, 'store', 'show-3', 'host-h1', 'mp3')).then(
        (f) => f.filter((n) => !n.startsWith('.')).length,
      ),
      2,
    );
  },
);

test(
  'a snippet a crashed run opened but wrote nothing of gives its number back; one whose file is gone does not',
  T,
  async () => {
    const { root, delivered, quarantined, make } = await setup('vacated');
    const t0 = 1_796_000_000_000_000_000n;
    const s3 = 3_000_000_000n;
    const session = sessionFor('show-3', {
      kind: 'host' as const,
      recordingId: 'host-h4',
      profile: { ...defaultProfile({ width: 640, height: 360 }), snippetSeconds: 3 },
      inputs: [syntheticHost(4)],
    });
    const crashed = async (recordingId: string, emptyFile: boolean) => {
      const dir = join(root, 'spool', 'show-3', recordingId);
      await mkdir(dir, { recursive: true });
      const s = { ...session, recordingId };
      const file = (seq: number) => `${recordingId}_00000${seq}.mp4`;
      const lines: JournalEntry[] = [
        { t: 'session', at: new Date().toISOString(), ...s },
        { t: 'worker', pid: 999_999_999 },
        { t: 'opened', seq: 0, file: file(0), startUtcNs: String(t0) },
        { t: 'closed', seq: 0, file: file(0), startUtcNs: String(t0), endUtcNs: String(t0 + s3) },
        { t: 'delivered', seq: 0, key: `show-3/${recordingId}/0` },
        { t: 'opened', seq: 1, file: file(1), startUtcNs: String(t0 + s3) },
      ];
      await writeFile(
        join(dir, JOURNAL_FILE),
        lines.map((l) => JSON.stringify(l)).join('\n') + '\n',
      );
      // Killed right after its recording opened snippet 1: the file is there, and empty.
      if (emptyFile) await writeFile(join(dir, file(1)), '');
      return { dir, session: s };
    };

    const empty = await crashed('host-h4', true);
    const gone = await crashed('host-h5', false);
    const d = make();
    await d.start();
    assert.deepEqual(await d.openRecording(empty.session), { dir: empty.dir, startIndex: 1 });
    assert.deepEqual(await readdir(empty.dir), [JOURNAL_FILE], 'the empty file is gone');
    const journal = await readFile(join(empty.dir, JOURNAL_FILE), 'utf8');
    assert.match(journal, /\{"t":"vacated","seq":1\}/);
    // Stored or set aside by a run that died before its journal said so: the number stays used.
    assert.deepEqual(await d.openRecording(gone.session), { dir: gone.dir, startIndex: 2 });
    await d.close();
    assert.equal(delivered.length, 0);
    assert.equal(quarantined.length, 0, JSON.stringify(quarantined));

    // What the journal says survives a restart: the number is free for the run that takes it.
    const again = make();
    await again.start();
    assert.equal((await again.openRecording(empty.session)).startIndex, 1);
    await again.close();
  },
);
