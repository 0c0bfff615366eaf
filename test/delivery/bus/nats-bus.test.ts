import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { createNatsBus, type NatsBusOptions } from '../../../src/delivery/bus/nats-bus.ts';
import { BusError, type MessageBus } from '../../../src/delivery/bus/port.ts';
import { startNatsServer, type NatsServer } from '../../support/nats-server.ts';
import { freeTcpPort } from '../../../src/support/free-port.ts';
import { Collector, runBusContract, testEvent } from './contract.ts';

const T = { timeout: 120_000 };
const FAST: Omit<NatsBusOptions, 'server'> = {
  ackWaitMs: 2_000,
  redeliverDelayMs: 200,
  timeoutMs: 3_000,
  onWarning: () => undefined,
};

function hostPort(url: string): string {
  return url.replace('nats://', '');
}

runBusContract('NATS JetStream', async () => {
  const server = await startNatsServer();
  return {
    open: async () => createNatsBus({ server: hostPort(server.url), ...FAST }),
    teardown: () => server.dispose(),
  };
});

/** Publishes until the bus takes it: right after a broker restart the client is still reconnecting. */
async function publishWhenBack(bus: MessageBus, e: Parameters<MessageBus['publish']>[0]) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await bus.publish(e);
    } catch (err) {
      if (!(err instanceof BusError) || !err.retryable || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

describe('NATS JetStream adapter', () => {
  let server: NatsServer | undefined;
  const buses: MessageBus[] = [];
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    for (const b of buses) await b.close().catch(() => undefined);
    await server?.dispose();
  });

  function open(): MessageBus {
    assert.ok(server);
    const bus = createNatsBus({ server: hostPort(server.url), ...FAST });
    buses.push(bus);
    return bus;
  }

  test(
    'a broker restart on the same store loses nothing and drops a republish by id',
    T,
    async () => {
      assert.ok(server);
      const bus = open();
      const sent = [1, 2, 3, 4, 5].map((n) => testEvent('tapedeck.test.restart.e', { n }));
      for (const e of sent.slice(0, 3)) await bus.publish(e);
      // A subscriber that stays open through the restart, acking as it goes.
      const live = new Collector();
      await bus.subscribe(
        { name: 'restart-live', typePrefix: 'tapedeck.test.restart.' },
        live.handler,
      );
      await live.waitForIds(sent.slice(0, 3).map((e) => e.id));

      await server.stop();
      await assert.rejects(bus.publish(sent[3]!), (err: unknown) => {
        assert.ok(err instanceof BusError, String(err));
        assert.equal(err.retryable, true);
        return true;
      });
      await server.restart();

      await publishWhenBack(bus, sent[0]!);
      for (const e of sent.slice(3)) await publishWhenBack(bus, e);
      await live.waitForIds(sent.map((e) => e.id));

      const late = new Collector();
      await bus.subscribe(
        { name: 'restart-late', typePrefix: 'tapedeck.test.restart.' },
        late.handler,
      );
      await late.waitForIds(sent.map((e) => e.id));
      await sleep(2_000);
      assert.deepEqual(late.events, sent, 'everything once, in order, after the restart');
      assert.deepEqual(live.events, sent, 'the open subscriber went on after the restart');
    },
  );

  test('check() with nothing listening fails with a clear message', T, async () => {
    const port = await freeTcpPort();
    const bus = createNatsBus({ server: `127.0.0.1:${port}`, ...FAST });
    buses.push(bus);
    await assert.rejects(bus.check(), (err: unknown) => {
      assert.ok(err instanceof BusError, String(err));
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(`cannot reach NATS at nats://127\\.0\\.0\\.1:${port}`));
      return true;
    });
  });

  test('check() against a server without JetStream says how to fix it', T, async (t) => {
    const plain = await startNatsServer({ jetstream: false });
    t.after(() => plain.dispose());
    const bus = createNatsBus({ server: hostPort(plain.url), ...FAST });
    buses.push(bus);
    await assert.rejects(bus.check(), (err: unknown) => {
      assert.ok(err instanceof BusError, String(err));
      assert.equal(err.retryable, false);
      assert.match(err.message, /no JetStream: start nats-server with -js/);
      return true;
    });
  });
});
