import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { type Message, PubSub } from '@google-cloud/pubsub';

import { openBus } from '../../../src/delivery/bus/open.ts';
import { BusError, type MessageBus } from '../../../src/delivery/bus/port.ts';
import { createPubSubBus, type PubSubBusOptions } from '../../../src/delivery/bus/pubsub-bus.ts';
import { startPubSubEmulator, type PubSubEmulator } from '../../support/pubsub-emulator.ts';
import { freeTcpPort } from '../../../src/support/free-port.ts';
import { Collector, runBusContract, testEvent } from './contract.ts';

const T = { timeout: 120_000 };
const PROJECT = 'tapedeck-test';
// 10 s is the smallest ack deadline Pub/Sub accepts.
const FAST: Omit<PubSubBusOptions, 'topic' | 'emulatorHost'> = {
  projectId: PROJECT,
  ackDeadlineSeconds: 10,
  timeoutMs: 5_000,
  onWarning: () => undefined,
};

function topicName(): string {
  return `events-${randomBytes(4).toString('hex')}`;
}

runBusContract('Google Pub/Sub (emulator)', async () => {
  const emulator = await startPubSubEmulator();
  const topic = topicName();
  return {
    open: async () => createPubSubBus({ ...FAST, topic, emulatorHost: emulator.host }),
    teardown: () => emulator.dispose(),
  };
});

/** A plain client, to look at what the adapter created; loopback only, as the adapter's. */
function rawClient(host: string): PubSub {
  return new PubSub({
    projectId: PROJECT,
    apiEndpoint: host,
    emulatorMode: true,
    universeDomain: 'googleapis.com',
  });
}

describe('Google Pub/Sub adapter', () => {
  let emulator: PubSubEmulator | undefined;
  let raw: PubSub | undefined;
  const buses: MessageBus[] = [];
  before(async () => {
    emulator = await startPubSubEmulator();
    raw = rawClient(emulator.host);
  });
  after(async () => {
    for (const b of buses) await b.close().catch(() => undefined);
    await raw?.close();
    await emulator?.dispose();
  });

  test('check() creates the topic; subscribe creates {TOPIC}-{name}', T, async () => {
    assert.ok(emulator && raw);
    const topic = topicName();
    const bus = await openBus(`pubsub://${PROJECT}/${topic}`, {
      dataDir: '/nonexistent',
      env: { PUBSUB_EMULATOR_HOST: emulator.host },
    });
    buses.push(bus);
    assert.equal(bus.describe, `pubsub://${PROJECT}/${topic}`);
    const [before] = await raw.topic(topic).exists();
    assert.equal(before, false);
    await bus.check();
    const [meta] = await raw.topic(topic).getMetadata();
    assert.equal(Number(meta.messageRetentionDuration?.seconds), 7 * 24 * 3600);
    await bus.check();

    const s = await bus.subscribe({ name: 'moderation' }, async (d) => d.ack());
    const [subMeta] = await raw.subscription(`${topic}-moderation`).getMetadata();
    assert.equal(subMeta.topic, `projects/${PROJECT}/topics/${topic}`);
    assert.equal(subMeta.ackDeadlineSeconds, 60);
    assert.equal(subMeta.name, `projects/${PROJECT}/subscriptions/${topic}-moderation`);
    await s.close();
    // Subscribing again finds it instead of failing on "already exists".
    const again = await bus.subscribe({ name: 'moderation' }, async (d) => d.ack());
    await again.close();
  });

  test('the body is the structured event; attributes carry ce-id and ce-type', T, async () => {
    assert.ok(emulator && raw);
    const topic = topicName();
    const bus = createPubSubBus({ ...FAST, topic, emulatorHost: emulator.host });
    buses.push(bus);
    await bus.check();
    const [rawSub] = await raw.topic(topic).createSubscription(`${topic}-raw`);
    const e = testEvent('tapedeck.test.attrs', { n: 1 });
    await bus.publish(e);
    const got = await new Promise<Message>((resolve) => {
      rawSub.once('message', (m: Message) => {
        m.ack();
        resolve(m);
      });
    });
    await rawSub.close();
    assert.deepEqual(JSON.parse(got.data.toString('utf8')), e);
    assert.equal(got.attributes['ce-id'], e.id);
    assert.equal(got.attributes['ce-type'], e.type);
    assert.equal(got.attributes['content-type'], 'application/cloudevents+json');
  });

  test(
    'a subscriber from the earliest event also gets one from before its creation',
    T,
    async () => {
      assert.ok(emulator);
      const topic = topicName();
      const bus = createPubSubBus({ ...FAST, topic, emulatorHost: emulator.host });
      buses.push(bus);
      const e = testEvent('tapedeck.test.backlog');
      await bus.publish(e);
      const c = new Collector();
      const s = await bus.subscribe({ name: 'late', startAt: 'earliest' }, c.handler);
      await c.waitForIds([e.id]);
      await s.close();
      assert.deepEqual(c.events, [e]);
    },
  );

  test('check() with nothing listening fails with a clear message', T, async () => {
    const port = await freeTcpPort();
    const bus = createPubSubBus({
      ...FAST,
      topic: topicName(),
      emulatorHost: `127.0.0.1:${port}`,
      timeoutMs: 2_000,
    });
    buses.push(bus);
    await assert.rejects(bus.check(), (err: unknown) => {
      assert.ok(err instanceof BusError, String(err));
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(`emulator at 127\\.0\\.0\\.1:${port}`));
      assert.ok(err.message.length < 600, `short enough to read: ${err.message}`);
      return true;
    });
  });
});
