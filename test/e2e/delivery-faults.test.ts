import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { after, before, test } from 'node:test';
import { createNatsBus } from '../../src/delivery/bus/nats-bus.ts';
import { openEmbeddedBus } from '../../src/delivery/bus/embedded-bus.ts';
import { parseSnippetKey } from '../../src/domain/snippet-key.ts';
import { readJournal } from '../../src/delivery/spool-journal.ts';
import { tapedeckInBackground } from '../support/background.ts';
import {
  collectEvents,
  listKeys,
  objectSha256,
  s3Client,
  s3Env,
} from '../support/delivery-checks.ts';
import { decodeErrors } from '../support/ffprobe.ts';
import { startNatsServer, type NatsServer } from '../support/nats-server.ts';
import { lastJsonLine, tempDir } from '../support/tapedeck.ts';
import { startVersityGw, type VersityGw } from '../support/versitygw.ts';

let gw: VersityGw;
let nats: NatsServer;
const dirs: string[] = [];
before(async () => {
  [gw, nats] = await Promise.all([startVersityGw({ bucket: 'faults' }), startNatsServer()]);
});
after(async () => {
  await Promise.allSettled([gw?.close(), nats?.dispose()]);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Summary {
  snippets: { key: string; seq: number; sha256: string; eventId: string; recovered: boolean }[];
  snippetsPending: number;
  eventsPending: number;
}

// Short snippets give many deliveries across each outage; the outages themselves are the 30 s asked for.
const RECORD = ['record', '--kind', 'host', '--snippet-seconds', '5', '--json'];

test(
  'the store stopped for 30 s mid-recording: nothing lost, all delivered after, no duplicate object or event',
  { timeout: 400_000 },
  async () => {
    const out = await tempDir('store-down');
    dirs.push(out);
    const rec = tapedeckInBackground(
      [
        ...RECORD,
        '--out',
        out,
        '--duration',
        '55',
        '--livestream',
        'store-down',
        '--store',
        `s3://${gw.bucket}/a`,
        '--bus',
        nats.url,
      ],
      s3Env(gw),
    );
    await rec.waitFor(/delivered store-down\/host-h1\/mp4\/\S+_000000\.mp4/, 120_000);
    await gw.stop();
    await sleep(30_000);
    assert.match(
      rec.stderr(),
      /warning: store s3:\/\/faults\/a\/.* is failing/,
      'the outage is reported while it lasts',
    );
    await gw.restart();
    const r = await rec.done;
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const summary = lastJsonLine<Summary>(r.stdout);
    assert.equal(summary.snippetsPending, 0);
    assert.equal(summary.eventsPending, 0);
    const seqs = summary.snippets.map((s) => s.seq);
    assert.deepEqual(seqs, [...Array(seqs.length).keys()], 'no snippet missing');
    assert.ok(seqs.length >= 11, `${seqs.length} snippets for 55 s`);

    const s3 = s3Client(gw);
    const keys = await listKeys(s3, gw.bucket, 'a/store-down/');
    assert.equal(keys.length, seqs.length, 'one object per snippet');
    for (const s of summary.snippets)
      assert.equal(await objectSha256(s3, gw.bucket, `a/${s.key}`), s.sha256);
    s3.destroy();
    const bus = createNatsBus({ server: `127.0.0.1:${nats.port}` });
    try {
      const events = await collectEvents(
        bus,
        'store-down',
        (c) => c.unique.size >= seqs.length,
        30_000,
      );
      const mine = events.raw.filter((e) => e.data.livestreamId === 'store-down');
      assert.equal(new Set(mine.map((e) => e.id)).size, seqs.length, 'an event for every snippet');
      assert.equal(mine.length, seqs.length, 'and none twice');
    } finally {
      await bus.close();
    }
  },
);

test(
  'the broker stopped for 30 s mid-recording: no event lost, none processed twice by a deduplicating consumer',
  { timeout: 400_000 },
  async () => {
    const out = await tempDir('bus-down');
    dirs.push(out);
    const rec = tapedeckInBackground(
      [
        ...RECORD,
        '--out',
        out,
        '--duration',
        '55',
        '--livestream',
        'bus-down',
        '--store',
        `s3://${gw.bucket}/b`,
        '--bus',
        nats.url,
      ],
      s3Env(gw),
    );
    await rec.waitFor(/delivered bus-down\/host-h1\/mp4\/\S+_000000\.mp4/, 120_000);
    await nats.stop();
    await sleep(30_000);
    await nats.restart();
    const r = await rec.done;
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const summary = lastJsonLine<Summary>(r.stdout);
    assert.equal(summary.eventsPending, 0, 'every event went out once the broker was back');
    assert.ok(summary.snippets.length >= 11);
    const bus = createNatsBus({ server: `127.0.0.1:${nats.port}` });
    try {
      const events = await collectEvents(
        bus,
        'bus-down',
        (c) => c.unique.size >= summary.snippets.length,
        60_000,
      );
      const ids = new Set(summary.snippets.map((s) => s.eventId));
      const processed = [...events.unique.values()].filter((e) => ids.has(e.id));
      assert.equal(processed.length, ids.size, 'no event lost');
      const raw = events.raw.filter((e) => ids.has(e.id)).length;
      assert.ok(
        raw >= ids.size,
        `${raw} deliveries for ${ids.size} ids; the consumer processed each id once`,
      );
    } finally {
      await bus.close();
    }
  },
);

/** Every file set aside under a quarantine folder, with the reason written beside it. */
async function quarantined(root: string): Promise<string> {
  const entries = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  const reasons = await Promise.all(
    entries
      .filter((e) => e.endsWith('.reason.txt'))
      .map(async (e) => `${e}: ${(await readFile(join(root, e), 'utf8')).trim()}`),
  );
  return reasons.length > 0 ? reasons.join('; ') : 'none';
}

/**
 * Waits until a recording under `spoolDir` has opened a snippet numbered `fromSeq` or more and is
 * 1.5 to 3.5 s into it (of 5 s), and returns that number.
 */
async function midSnippet(spoolDir: string, fromSeq: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const recording of await readdir(spoolDir).catch(() => [] as string[])) {
      const journal = await readJournal(join(spoolDir, recording)).catch(() => null);
      const last = Math.max(...(journal?.opened.keys() ?? []));
      const opened = journal?.opened.get(last);
      if (!opened || last < fromSeq) continue;
      const intoMs = Date.now() - Number(opened.startUtcNs / 1_000_000n);
      if (intoMs >= 1500 && intoMs <= 3500) return last;
    }
    await sleep(50);
  }
  throw new Error(`no snippet from ${fromSeq} on was opened under ${spoolDir} in time`);
}

test(
  'the recorder killed and restarted mid-recording: leftovers delivered, ids stable, no duplicates',
  { timeout: 400_000 },
  async () => {
    const out = await tempDir('killed');
    dirs.push(out);
    const args = [...RECORD, '--out', out, '--livestream', 'killed'];
    const first = tapedeckInBackground([...args, '--duration', '60']);
    await first.waitFor(/delivered killed\/host-h1\/mp4\/\S+_000001\.mp4/, 120_000);
    // Into the middle of a snippet from 2 on, timed by when its recording opened it: a kill
    // timed by the log alone fell on a snippet's end when the machine was slow to deliver.
    const cutSeq = await midSnippet(join(out, 'spool', 'killed'), 2, 120_000);
    process.kill(first.child.pid!, 'SIGKILL');
    const killed = await first.done;
    const deliveredBeforeKill = Math.max(
      ...[
        ...`${killed.stdout}${killed.stderr}`.matchAll(
          /delivered killed\/host-h1\/mp4\/\S+_(\d{6})\.mp4/g,
        ),
      ].map((m) => Number(m[1])),
    );
    const second = tapedeckInBackground([...args, '--duration', '12']);
    const r = await second.done;
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const summary = lastJsonLine<Summary>(r.stdout);
    assert.equal(summary.snippetsPending, 0);
    assert.equal(summary.eventsPending, 0);

    const storeDir = join(out, 'store', 'killed', 'host-h1', 'mp4');
    const files = (await readdir(storeDir)).filter((f) => !f.startsWith('.')).sort();
    const seqs = files.map((f) => parseSnippetKey(`killed/host-h1/mp4/${f}`).seq);
    // When a number is missing, what happened to it: set aside, or never recorded.
    const story = async () =>
      `quarantined: ${await quarantined(join(out, 'quarantine'))}; recovered: ` +
      `${JSON.stringify(summary.snippets.filter((s) => s.recovered))}; the first run delivered up ` +
      `to ${deliveredBeforeKill}; the second run said: ${r.stderr.slice(-1500)}`;
    const expected = [...Array(seqs.length).keys()];
    assert.deepEqual(
      seqs,
      expected,
      `numbering continues without a gap or a repeat: ${files.join(', ')}; ` +
        (isDeepStrictEqual(seqs, expected) ? '' : await story()),
    );
    assert.ok(seqs.length >= 5, `${seqs.length} snippets`);
    for (const f of files) assert.equal(await decodeErrors(join(storeDir, f)), '', `${f} decodes`);
    const recovered = summary.snippets.filter((s) => s.recovered);
    assert.equal(recovered.length, 1, 'the snippet cut by the kill is delivered as recovered');
    assert.equal(
      recovered[0]!.seq,
      cutSeq,
      `the one recovered is the one cut; the first run delivered up to ${deliveredBeforeKill}`,
    );

    // The embedded bus holds every event exactly once, with the id the key gives.
    const bus = await openEmbeddedBus({ dir: join(out, 'bus') });
    try {
      const events = await collectEvents(
        bus,
        'killed',
        (c) => c.unique.size >= files.length,
        20_000,
      );
      assert.equal(events.unique.size, files.length);
      assert.equal(events.raw.length, files.length, 'no event twice');
      for (const e of events.unique.values())
        assert.ok(files.includes(e.data.key.split('/').at(-1)!));
    } finally {
      await bus.close();
    }
  },
);
