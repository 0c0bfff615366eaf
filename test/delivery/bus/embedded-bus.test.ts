import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import {
  openEmbeddedBus,
  type EmbeddedBusOptions,
} from '../../../src/delivery/bus/embedded-bus.ts';
import { openBus } from '../../../src/delivery/bus/open.ts';
import { BusError } from '../../../src/delivery/bus/port.ts';
import { spawnTracked, stopTracked } from '../../support/children.ts';
import { Collector, runBusContract, testEvent } from './contract.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const T = { timeout: 120_000 };
const FAST: Omit<EmbeddedBusOptions, 'dir'> = {
  ackTimeoutMs: 2_000,
  redeliverDelayMs: 200,
  pollMs: 500,
  onWarning: () => undefined,
};

runBusContract('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tapedeck-bus-'));
  return {
    open: () => openEmbeddedBus({ dir, ...FAST }),
    teardown: () => rm(dir, { recursive: true, force: true }),
  };
});

async function logLines(dir: string): Promise<string[]> {
  return (await readFile(join(dir, 'events.log'), 'utf8')).split('\n');
}

describe('embedded bus on disk', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tapedeck-bus-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('events survive a reopen, and a republish is not stored twice', T, async () => {
    const folder = join(dir, 'reopen');
    const sent = [1, 2, 3].map((n) => testEvent('tapedeck.test.reopen', { n }));
    const first = await openEmbeddedBus({ dir: folder, ...FAST });
    for (const e of sent) await first.publish(e);
    await first.close();

    const second = await openEmbeddedBus({ dir: folder, ...FAST });
    try {
      await second.publish(sent[1]!);
      const c = new Collector();
      const s = await second.subscribe({ name: 'reader' }, c.handler);
      await c.waitForIds(sent.map((e) => e.id));
      await s.close();
      assert.deepEqual(c.events, sent);
    } finally {
      await second.close();
    }
    const lines = await logLines(folder);
    assert.deepEqual(
      lines.filter((l) => l !== '').map((l) => (JSON.parse(l) as { id: string }).id),
      sent.map((e) => e.id),
    );
  });

  test('a line torn by a crash mid-append is skipped, and the log goes on', T, async () => {
    const folder = join(dir, 'torn');
    const before = testEvent('tapedeck.test.torn', { n: 1 });
    const first = await openEmbeddedBus({ dir: folder, ...FAST });
    await first.publish(before);
    await first.close();
    const torn = JSON.stringify(testEvent('tapedeck.test.torn', { n: 2 }));
    await appendFile(join(folder, 'events.log'), torn.slice(0, torn.length >> 1));

    const warnings: string[] = [];
    const second = await openEmbeddedBus({
      dir: folder,
      ...FAST,
      onWarning: (m) => warnings.push(m),
    });
    const c = new Collector();
    try {
      const s = await second.subscribe({ name: 'reader' }, c.handler);
      await c.waitForIds([before.id]);
      const afterwards = testEvent('tapedeck.test.torn', { n: 3 });
      await second.publish(afterwards);
      await c.waitForIds([afterwards.id]);
      await s.close();
      assert.deepEqual(c.events, [before, afterwards]);
    } finally {
      await second.close();
    }
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /unreadable line/);
    const lines = await logLines(folder);
    assert.equal(
      lines.length,
      4,
      'event, torn line, event, and the empty rest after the last newline',
    );
    assert.equal(lines[1], torn.slice(0, torn.length >> 1));
  });

  test('writers racing on one log leave whole lines and no empty ones', T, async () => {
    const folder = join(dir, 'race');
    const buses = await Promise.all([0, 1, 2].map(() => openEmbeddedBus({ dir: folder, ...FAST })));
    try {
      await Promise.all(
        buses.map(async (bus, b) => {
          for (let n = 0; n < 40; n++) await bus.publish(testEvent('tapedeck.test.race', { b, n }));
        }),
      );
    } finally {
      await Promise.all(buses.map((b) => b.close()));
    }
    const lines = await logLines(folder);
    assert.equal(lines.pop(), '', 'the log ends with a newline');
    assert.equal(lines.filter((l) => l === '').length, 0, 'no empty lines');
    assert.equal(lines.length, 120);
    for (const l of lines) JSON.parse(l);
  });

  test('a subscriber sees what another process publishes, alongside its own', T, async (t) => {
    const folder = join(dir, 'processes');
    const bus = await openEmbeddedBus({ dir: folder, ...FAST });
    t.after(() => bus.close());
    const c = new Collector();
    const s = await bus.subscribe({ name: 'tail', startAt: 'new' }, c.handler);
    t.after(() => s.close());

    const module = join(REPO, 'src/delivery/bus/embedded-bus.ts');
    // The child publishes 20 events from its own bus instance on the same folder.
    const script = `
      const { openEmbeddedBus } = await import(${JSON.stringify(module)});
      const { randomUUID } = await import('node:crypto');
      const bus = await openEmbeddedBus({ dir: process.argv[1] });
      for (let n = 0; n < 20; n++) {
        const id = randomUUID();
        await bus.publish({ specversion: '1.0', id, source: 'tapedeck/child', type: 'tapedeck.test.child',
          time: new Date().toISOString(), datacontenttype: 'application/json', data: { n } });
        console.log(id);
        await new Promise((r) => setTimeout(r, 20));
      }
      await bus.close();
    `;
    const child = spawnTracked(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, folder],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.after(() => stopTracked(child, 'SIGKILL'));

    const mine = [];
    for (let n = 0; n < 10; n++) {
      const e = testEvent('tapedeck.test.parent', { n });
      mine.push(e);
      await bus.publish(e);
      await sleep(30);
    }
    assert.equal(await exited, 0, err);
    const theirs = out.trim().split('\n');
    assert.equal(theirs.length, 20, out);

    await c.waitForIds([...theirs, ...mine.map((e) => e.id)]);
    await sleep(1_000);
    const ids = c.ids();
    assert.equal(ids.length, 30, 'each event exactly once');
    // Each writer's events arrive in the order it wrote them.
    assert.deepEqual(
      ids.filter((id) => theirs.includes(id)),
      theirs,
    );
    assert.deepEqual(
      c.events.filter((e) => e.type === 'tapedeck.test.parent'),
      mine,
    );
    const lines = (await logLines(folder)).filter((l) => l !== '');
    assert.equal(lines.length, 30);
    for (const l of lines) JSON.parse(l);
  });
});

describe('openBus', () => {
  test('embedded lives in {dataDir}/bus', T, async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tapedeck-open-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    const bus = await openBus('embedded', { dataDir });
    t.after(() => bus.close());
    assert.equal(bus.describe, `embedded:${join(dataDir, 'bus')}`);
    await bus.check();
    await bus.publish(testEvent('tapedeck.test.open'));
    assert.equal((await logLines(join(dataDir, 'bus'))).length, 2);
  });

  test('a NATS URL is described without its credentials', T, async (t) => {
    const bus = await openBus('nats://me:s3cret@127.0.0.1:4222', { dataDir: '/nonexistent' });
    t.after(() => bus.close());
    assert.equal(bus.describe, 'nats://127.0.0.1:4222');
  });

  test('anything else is refused with what to write instead', T, async () => {
    const cases: [string, RegExp][] = [
      [
        'kafka://127.0.0.1:9092',
        /unknown kind of bus: write embedded, nats:\/\/HOST:PORT or pubsub/,
      ],
      ['nats://me:s3cret@127.0.0.1:4222/x', /write nats:\/\/HOST:PORT \(no path or query\)/],
      ['pubsub://my-project', /write pubsub:\/\/PROJECT\/TOPIC/],
      ['pubsub://P1/events', /"P1" is not a Google Cloud project id/],
      ['pubsub://my-project/goog-events', /not a usable topic name/],
    ];
    for (const [url, message] of cases) {
      await assert.rejects(openBus(url, { dataDir: '/nonexistent' }), (err: unknown) => {
        assert.ok(err instanceof BusError, String(err));
        assert.equal(err.retryable, false);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      });
    }
  });
});
