import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import type { CloudEvent } from '../../src/domain/cloudevent.ts';
import { createNatsBus, type NatsBus } from '../../src/delivery/bus/nats-bus.ts';
import { openOutbox, OutboxLockedError, type OutboxWarning } from '../../src/delivery/outbox.ts';
import { spawnTracked, stopTracked } from '../support/children.ts';
import { startNatsServer, type NatsServer } from '../support/nats-server.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';
import { Collector, testEvent } from './bus/contract.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const T = { timeout: 180_000 };

/**
 * A child process that opens an outbox on `dataDir` with a bus nobody answers, adds
 * `count` events, prints their ids and "ready", then waits to be killed.
 */
function outboxChild(dataDir: string, deadPort: number, count: number): ChildProcess {
  const script = `
    const { openOutbox } = await import(${JSON.stringify(join(REPO, 'src/delivery/outbox.ts'))});
    const { createNatsBus } = await import(${JSON.stringify(join(REPO, 'src/delivery/bus/nats-bus.ts'))});
    const { randomUUID } = await import('node:crypto');
    const bus = createNatsBus({ server: '127.0.0.1:${deadPort}', timeoutMs: 500, onWarning: () => {} });
    const outbox = await openOutbox({ dataDir: process.argv[1], bus, warnAfterMs: 3600000 });
    outbox.start();
    for (let n = 0; n < ${count}; n++) {
      const id = randomUUID();
      await outbox.add({ specversion: '1.0', id, source: 'tapedeck/child', type: 'tapedeck.test.crash',
        time: new Date().toISOString(), datacontenttype: 'application/json', data: { n } });
      console.log(id);
    }
    console.log('ready');
    setInterval(() => {}, 1000);
  `;
  return spawnTracked(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script, dataDir],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/** The lines the child printed up to "ready". */
function untilReady(child: ChildProcess): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      const lines = out.split('\n');
      if (lines.includes('ready')) resolve(lines.slice(0, lines.indexOf('ready')));
    });
    child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`child exited (${code}) early:\n${out}${err}`)));
  });
}

describe('outbox with a real nats-server', () => {
  let server: NatsServer | undefined;
  let root = '';
  const closers: (() => Promise<unknown>)[] = [];
  let consumerBus: NatsBus | undefined;

  before(async () => {
    server = await startNatsServer();
    root = await mkdtemp(join(tmpdir(), 'tapedeck-outbox-'));
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await server?.dispose();
    await rm(root, { recursive: true, force: true });
  });

  function bus(): NatsBus {
    assert.ok(server);
    const b = createNatsBus({
      server: server.url.replace('nats://', ''),
      timeoutMs: 2_000,
      ackWaitMs: 5_000,
      onWarning: () => undefined,
    });
    closers.push(() => b.close());
    return b;
  }

  /** A consumer that dedupes by id, as every real one does. */
  async function consume(name: string, typePrefix: string) {
    consumerBus ??= bus();
    const raw = new Collector();
    const s = await consumerBus.subscribe({ name, typePrefix }, raw.handler);
    closers.push(() => s.close());
    const firstSeen = (): string[] => raw.ids().filter((id, i, all) => all.indexOf(id) === i);
    return { raw, firstSeen };
  }

  test(
    'events added while the broker is down are published once it is back, in order',
    T,
    async () => {
      assert.ok(server);
      const outbox = await openOutbox({
        dataDir: join(root, 'outage'),
        bus: bus(),
        warnAfterMs: 2_000,
        maxBackoffMs: 2_000,
      });
      closers.push(() => outbox.close());
      const warnings: OutboxWarning[] = [];
      outbox.on('warning', (w) => warnings.push(w));
      const recovered: number[] = [];
      outbox.on('recovered', (r) => recovered.push(r.pending));
      outbox.start();
      const c = await consume('outage', 'tapedeck.test.outage');

      const sent: CloudEvent[] = [testEvent('tapedeck.test.outage', { n: 0 })];
      await outbox.add(sent[0]!);
      await outbox.drain(30_000);

      await server.stop();
      for (let n = 1; n <= 20; n++) {
        const e = testEvent('tapedeck.test.outage', { n });
        sent.push(e);
        await outbox.add(e);
        await sleep(500);
      }
      assert.equal(outbox.pending(), 20, 'nothing goes out while the broker is down');
      assert.ok(warnings.length >= 1, 'a warning while the broker is down');
      assert.match(warnings.at(-1)!.message, /has been failing for \d+ s; \d+ events pending/);
      assert.ok(warnings.at(-1)!.pending > 0);

      await server.restart();
      await outbox.drain(90_000);
      assert.equal(outbox.pending(), 0);
      assert.equal(recovered.length, 1);

      await c.raw.waitForIds(
        sent.map((e) => e.id),
        90_000,
      );
      await sleep(2_000);
      assert.deepEqual(
        c.firstSeen(),
        sent.map((e) => e.id),
        'all of them, in order',
      );
      assert.equal(c.raw.ids().length, sent.length, 'and each exactly once');
    },
  );

  test('after a crash, the reopened outbox publishes what was pending', T, async (t) => {
    const dataDir = join(root, 'crash');
    const child = outboxChild(dataDir, await freeTcpPort(), 5);
    t.after(() => stopTracked(child, 'SIGKILL'));
    const ids = await untilReady(child);
    assert.equal(ids.length, 5);
    // kill -9: no close, no lock release, whatever was in flight is cut off.
    await stopTracked(child, 'SIGKILL');

    const outbox = await openOutbox({ dataDir, bus: bus() });
    closers.push(() => outbox.close());
    assert.equal(outbox.pending(), 5);
    const c = await consume('crash', 'tapedeck.test.crash');
    outbox.start();
    await outbox.drain(60_000);
    await c.raw.waitForIds(ids);
    await sleep(1_000);
    assert.deepEqual(c.raw.ids(), ids);
  });

  test('close without drain keeps pending events for the next open', T, async () => {
    const dataDir = join(root, 'close');
    const dead = createNatsBus({ server: `127.0.0.1:${await freeTcpPort()}`, timeoutMs: 500 });
    closers.push(() => dead.close());
    const first = await openOutbox({ dataDir, bus: dead, warnAfterMs: 3_600_000 });
    first.start();
    const sent = [1, 2, 3].map((n) => testEvent('tapedeck.test.close', { n }));
    for (const e of sent) await first.add(e);
    await first.close();

    const second = await openOutbox({ dataDir, bus: bus() });
    closers.push(() => second.close());
    assert.equal(second.pending(), 3);
    const c = await consume('close', 'tapedeck.test.close');
    second.start();
    await second.drain(60_000);
    await c.raw.waitForIds(sent.map((e) => e.id));
    assert.deepEqual(c.raw.events, sent);
  });

  test('a second owner of the folder is refused while the first lives', T, async (t) => {
    const dataDir = join(root, 'lock');
    const child = outboxChild(dataDir, await freeTcpPort(), 0);
    t.after(() => stopTracked(child, 'SIGKILL'));
    await untilReady(child);
    await assert.rejects(openOutbox({ dataDir, bus: bus() }), (err: unknown) => {
      assert.ok(err instanceof OutboxLockedError, String(err));
      assert.match(err.message, new RegExp(`belongs to process ${child.pid} .* which is running`));
      return true;
    });
    await stopTracked(child, 'SIGKILL');

    const outbox = await openOutbox({ dataDir, bus: bus() });
    closers.push(() => outbox.close());
    await assert.rejects(openOutbox({ dataDir, bus: bus() }), /already open in this process/);
    await outbox.close();
    const again = await openOutbox({ dataDir, bus: bus() });
    await again.close();
  });

  test(
    'adding an id already pending or published is a no-op; the file is compacted',
    T,
    async () => {
      const dataDir = join(root, 'idempotent');
      const outbox = await openOutbox({ dataDir, bus: bus(), compactAfter: 4 });
      closers.push(() => outbox.close());
      const c = await consume('idempotent', 'tapedeck.test.idempotent');
      const first = testEvent('tapedeck.test.idempotent', { n: 0 });
      await outbox.add(first);
      await outbox.add(first);
      assert.equal(outbox.pending(), 1);
      outbox.start();
      await outbox.drain(30_000);
      await outbox.add(first);
      assert.equal(outbox.pending(), 0);
      const more = [1, 2, 3, 4, 5].map((n) => testEvent('tapedeck.test.idempotent', { n }));
      for (const e of more) await outbox.add(e);
      await outbox.drain(30_000);
      await outbox.close();

      const file = await readFile(join(dataDir, 'outbox', 'events.jsonl'), 'utf8');
      const records = file.split('\n').filter((l) => l !== '');
      assert.ok(
        records.every((l) => 'done' in (JSON.parse(l) as object)),
        file,
      );
      assert.equal(records.length, 6);

      const reopened = await openOutbox({ dataDir, bus: bus() });
      closers.push(() => reopened.close());
      await reopened.add(first);
      assert.equal(reopened.pending(), 0, 'a published id is remembered across a reopen');
      await c.raw.waitForIds([first, ...more].map((e) => e.id));
      await sleep(1_000);
      assert.deepEqual(c.raw.events, [first, ...more]);
    },
  );
});
