import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import type { CloudEvent } from '../../../src/domain/cloudevent.ts';
import {
  BusError,
  type Delivery,
  type MessageBus,
  type SubscribeOptions,
  type Subscription,
} from '../../../src/delivery/bus/port.ts';

/**
 * One suite, run against every adapter with its real broker: what the MessageBus port
 * promises. Each case uses its own event types and subscription names, so the cases
 * can share one broker (or folder) without seeing each other's events.
 */
export interface BusUnderTest {
  /** A new client of the same broker (or folder); the suite closes what it opens. */
  open(): Promise<MessageBus>;
  /** Stops whatever setup started. */
  teardown(): Promise<void>;
}

const T = { timeout: 120_000 };
/** Long enough for a wrong extra delivery to show up; only used to prove an absence. */
const SETTLE_MS = 2_000;

export function testEvent(type: string, data: unknown = {}): CloudEvent {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: 'tapedeck/contract',
    type,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  };
}

export type Reply = 'ack' | 'nack' | 'throw' | 'ignore';

/** Records every delivery and answers as told; waits on what it has seen. */
export class Collector {
  readonly events: CloudEvent[] = [];
  private readonly counts = new Map<string, number>();
  private notify: (() => void) | null = null;

  constructor(private readonly reply: (e: CloudEvent, nth: number) => Reply = () => 'ack') {}

  readonly handler = async (d: Delivery): Promise<void> => {
    const nth = (this.counts.get(d.event.id) ?? 0) + 1;
    this.counts.set(d.event.id, nth);
    this.events.push(d.event);
    this.notify?.();
    const r = this.reply(d.event, nth);
    if (r === 'ack') await d.ack();
    else if (r === 'nack') await d.nack();
    else if (r === 'throw') throw new Error('handler failed on purpose');
  };

  ids(): string[] {
    return this.events.map((e) => e.id);
  }

  count(id: string): number {
    return this.counts.get(id) ?? 0;
  }

  async waitFor(what: string, done: (c: this) => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.events.map((e) => `${e.type} ${e.id}`).join('\n  ');
        assert.fail(`timed out waiting for ${what}; received:\n  ${seen}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.notify = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.notify = null;
    }
  }

  async waitForIds(ids: readonly string[], timeoutMs?: number): Promise<void> {
    await this.waitFor(
      `${ids.length} events`,
      (c) => ids.every((id) => c.count(id) > 0),
      timeoutMs,
    );
  }
}

function sortById(events: readonly CloudEvent[]): CloudEvent[] {
  return [...events].sort((a, b) => a.id.localeCompare(b.id));
}

export function runBusContract(name: string, setup: () => Promise<BusUnderTest>): void {
  describe(`MessageBus contract: ${name}`, () => {
    let ctx: BusUnderTest | undefined;
    const run = randomBytes(4).toString('hex');
    const prefix = (c: string): string => `tapedeck.test.r${run}.${c}`;
    const sub = (c: string): string => `c${run}-${c}`;
    // Everything a case opens is closed after it, even when it fails.
    const opened: { close(): Promise<void> }[] = [];

    async function open(): Promise<MessageBus> {
      assert.ok(ctx, 'setup did not finish');
      const bus = await ctx.open();
      opened.push(bus);
      return bus;
    }

    async function subscribe(
      bus: MessageBus,
      opts: SubscribeOptions,
      c: Collector,
    ): Promise<Subscription> {
      const s = await bus.subscribe(opts, c.handler);
      opened.push(s);
      return s;
    }

    async function closeAll(): Promise<void> {
      for (const o of opened.splice(0).reverse()) await o.close().catch(() => undefined);
    }

    before(async () => {
      ctx = await setup();
    });
    after(async () => {
      await closeAll();
      await ctx?.teardown();
    });

    test('check() passes', T, async (t) => {
      t.after(closeAll);
      const bus = await open();
      await bus.check();
      assert.ok(bus.describe.length > 0);
    });

    test(
      'a new subscriber from the earliest event gets what was published before',
      T,
      async (t) => {
        t.after(closeAll);
        const bus = await open();
        const sent = [
          testEvent(`${prefix('early')}.a`, { n: 1, s: 'é ✓' }),
          testEvent(`${prefix('early')}.b`, { n: 2 }),
        ];
        for (const e of sent) await bus.publish(e);
        const c = new Collector();
        await subscribe(
          bus,
          { name: sub('early'), typePrefix: `${prefix('early')}.`, startAt: 'earliest' },
          c,
        );
        await c.waitForIds(sent.map((e) => e.id));
        assert.deepEqual(sortById(c.events), sortById(sent));
      },
    );

    test('a subscriber that starts at "new" gets only what comes after', T, async (t) => {
      t.after(closeAll);
      const bus = await open();
      const old = testEvent(`${prefix('new')}.a`);
      await bus.publish(old);
      const c = new Collector();
      await subscribe(
        bus,
        { name: sub('new'), typePrefix: `${prefix('new')}.`, startAt: 'new' },
        c,
      );
      const fresh = testEvent(`${prefix('new')}.b`);
      await bus.publish(fresh);
      await c.waitForIds([fresh.id]);
      await sleep(SETTLE_MS);
      assert.deepEqual(c.ids(), [fresh.id]);
    });

    test('acked events do not come again to the same name after close and reopen', T, async (t) => {
      t.after(closeAll);
      const opts = { name: sub('acked'), typePrefix: `${prefix('acked')}.` };
      const first = await open();
      const sent = [testEvent(`${prefix('acked')}.a`), testEvent(`${prefix('acked')}.b`)];
      for (const e of sent) await first.publish(e);
      const c1 = new Collector();
      const s1 = await subscribe(first, opts, c1);
      await c1.waitForIds(sent.map((e) => e.id));
      await s1.close();
      await first.close();

      const second = await open();
      const later = testEvent(`${prefix('acked')}.c`);
      await second.publish(later);
      const c2 = new Collector();
      await subscribe(second, opts, c2);
      await c2.waitForIds([later.id]);
      await sleep(SETTLE_MS);
      assert.deepEqual(c2.ids(), [later.id]);
    });

    test(
      'a transient subscription is gone once closed: the same name starts afresh',
      T,
      async (t) => {
        t.after(closeAll);
        const opts = {
          name: sub('transient'),
          typePrefix: `${prefix('transient')}.`,
          transient: true,
        };
        const bus = await open();
        const sent = [testEvent(`${prefix('transient')}.a`), testEvent(`${prefix('transient')}.b`)];
        for (const e of sent) await bus.publish(e);
        const c1 = new Collector();
        const s1 = await subscribe(bus, { ...opts, startAt: 'earliest' }, c1);
        await c1.waitForIds(sent.map((e) => e.id));
        await s1.close();
        // Had the cursor survived, these acked events would not come again.
        const c2 = new Collector();
        await subscribe(bus, { ...opts, startAt: 'earliest' }, c2);
        await c2.waitForIds(sent.map((e) => e.id));
        assert.deepEqual(c2.ids().sort(), sent.map((e) => e.id).sort());
      },
    );

    test('a nacked event and one whose handler threw come again', T, async (t) => {
      t.after(closeAll);
      const bus = await open();
      const nacked = testEvent(`${prefix('nack')}.a`);
      const thrown = testEvent(`${prefix('nack')}.b`);
      await bus.publish(nacked);
      await bus.publish(thrown);
      const c = new Collector((e, nth) => {
        if (nth > 1) return 'ack';
        return e.id === nacked.id ? 'nack' : 'throw';
      });
      await subscribe(bus, { name: sub('nack'), typePrefix: `${prefix('nack')}.` }, c);
      await c.waitFor('each twice', (x) => x.count(nacked.id) >= 2 && x.count(thrown.id) >= 2);
      const again = c.events.filter((e) => e.id === nacked.id);
      assert.deepEqual(again[1], nacked);
    });

    test('an event left unsettled comes again after the ack timeout', T, async (t) => {
      t.after(closeAll);
      const bus = await open();
      const e = testEvent(`${prefix('unsettled')}.a`);
      await bus.publish(e);
      const c = new Collector((_, nth) => (nth === 1 ? 'ignore' : 'ack'));
      await subscribe(bus, { name: sub('unsettled'), typePrefix: `${prefix('unsettled')}.` }, c);
      await c.waitFor('a second delivery', (x) => x.count(e.id) >= 2, 90_000);
    });

    test('an unacked event comes again to the same name after a restart', T, async (t) => {
      t.after(closeAll);
      const opts = { name: sub('restart'), typePrefix: `${prefix('restart')}.` };
      const first = await open();
      const e = testEvent(`${prefix('restart')}.a`);
      await first.publish(e);
      const c1 = new Collector(() => 'ignore');
      const s1 = await subscribe(first, opts, c1);
      await c1.waitForIds([e.id]);
      await s1.close();
      await first.close();

      const second = await open();
      const c2 = new Collector();
      await subscribe(second, opts, c2);
      await c2.waitForIds([e.id], 90_000);
      assert.deepEqual(c2.events[0], e);
    });

    test('two subscription names each get every event', T, async (t) => {
      t.after(closeAll);
      const bus = await open();
      const sent = [1, 2, 3].map((n) => testEvent(`${prefix('fan')}.e`, { n }));
      for (const e of sent) await bus.publish(e);
      const a = new Collector();
      const b = new Collector();
      await subscribe(bus, { name: sub('fan-a'), typePrefix: `${prefix('fan')}.` }, a);
      await subscribe(bus, { name: sub('fan-b'), typePrefix: `${prefix('fan')}.` }, b);
      await a.waitForIds(sent.map((e) => e.id));
      await b.waitForIds(sent.map((e) => e.id));
      assert.deepEqual(sortById(a.events), sortById(sent));
      assert.deepEqual(sortById(b.events), sortById(sent));
    });

    test('typePrefix lets through only the types that start with it', T, async (t) => {
      t.after(closeAll);
      const bus = await open();
      const p = prefix('filter');
      const ready = testEvent(`${p}.snippet.ready`);
      const gone = testEvent(`${p}.snippet.gone`);
      const clip = testEvent(`${p}.clip.ready`);
      const lookalike = testEvent(`${p}.snippetx.ready`);
      for (const e of [ready, clip, gone, lookalike]) await bus.publish(e);
      const whole = new Collector();
      const partial = new Collector();
      await subscribe(bus, { name: sub('filter-whole'), typePrefix: `${p}.snippet.` }, whole);
      await subscribe(bus, { name: sub('filter-part'), typePrefix: `${p}.snip` }, partial);
      await whole.waitForIds([ready.id, gone.id]);
      await partial.waitForIds([ready.id, gone.id, lookalike.id]);
      await sleep(SETTLE_MS);
      assert.deepEqual(sortById(whole.events), sortById([ready, gone]));
      assert.deepEqual(sortById(partial.events), sortById([ready, gone, lookalike]));
    });

    test('publish refuses an invalid envelope with a clear error', T, async (t) => {
      t.after(closeAll);
      const bus = await open();
      const p = prefix('invalid');
      const good = testEvent(`${p}.ok`);
      const bad: unknown[] = [
        { ...testEvent(`${p}.bad`), specversion: '0.3' },
        { ...testEvent(`${p}.bad`), id: '' },
        { ...testEvent(`${p}.bad`), time: 'yesterday' },
        (({ data: _data, ...rest }) => rest)(testEvent(`${p}.bad`)),
      ];
      const expected = [/specversion/, /id must be/, /time must be/, /data is missing/];
      for (const [i, e] of bad.entries()) {
        await assert.rejects(bus.publish(e as CloudEvent), (err: unknown) => {
          assert.ok(err instanceof BusError, `not a BusError: ${String(err)}`);
          assert.equal(err.retryable, false);
          assert.match(err.message, /invalid event/);
          assert.match(err.message, expected[i]!);
          return true;
        });
      }
      await bus.publish(good);
      const c = new Collector();
      await subscribe(bus, { name: sub('invalid'), typePrefix: `${p}.` }, c);
      await c.waitForIds([good.id]);
      await sleep(SETTLE_MS);
      assert.deepEqual(c.ids(), [good.id]);
    });

    test('a consumer that dedupes by id counts an event published twice once', T, async (t) => {
      t.after(closeAll);
      const bus = await open();
      const twice = testEvent(`${prefix('dedupe')}.a`);
      const once = testEvent(`${prefix('dedupe')}.b`);
      await bus.publish(twice);
      await bus.publish(twice);
      await bus.publish(once);
      // What a real consumer does: the first delivery of an id counts, later ones are acked only.
      const counted = new Map<string, number>();
      const c = new Collector((e) => {
        if (!counted.has(e.id)) counted.set(e.id, 1);
        return 'ack';
      });
      await subscribe(bus, { name: sub('dedupe'), typePrefix: `${prefix('dedupe')}.` }, c);
      await c.waitForIds([twice.id, once.id]);
      await sleep(SETTLE_MS);
      assert.deepEqual(
        [...counted.entries()].sort(),
        [
          [twice.id, 1],
          [once.id, 1],
        ].sort(),
      );
      assert.deepEqual(
        sortById(c.events.filter((e, i) => c.ids().indexOf(e.id) === i)),
        sortById([twice, once]),
      );
    });
  });
}
