import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { assertHostEvent } from '../../../src/domain/host-event.ts';
import { openBus } from '../../../src/delivery/bus/open.ts';
import type { Delivery, MessageBus } from '../../../src/delivery/bus/port.ts';
import { Outbox } from '../../../src/delivery/outbox.ts';
import { announceHostEvents } from '../../../src/recorder/host-events.ts';
import { startNatsServer } from '../../support/nats-server.ts';
import { tempDir } from '../../support/tapedeck.ts';
import { startLiveRig, startPublisher, stopPublishers, type Publisher } from './harness.ts';

const dirs: string[] = [];

/**
 * The publisher sends audio: its first packets come after the join, once. It turns its camera
 * off as soon as the join is seen, which may come before its first picture reached the ingest:
 * a 'video-started' is there at most once, and before the camera went off.
 */
function assertSeen(seen: string[]): void {
  const started = ['h1:audio-started', 'h1:video-started'];
  assert.deepEqual(
    seen.filter((s) => !started.includes(s)),
    ['h1:joined', 'h1:camera-off', 'h1:left'],
  );
  assert.equal(seen.indexOf('h1:audio-started') >= 1, true, seen.join(', '));
  assert.ok(seen.indexOf('h1:audio-started') < seen.indexOf('h1:left'), seen.join(', '));
  for (const s of started)
    assert.ok(seen.filter((x) => x === s).length <= 1, `${s} at most once: ${seen.join(', ')}`);
  assert.equal(seen.filter((x) => x === 'h1:audio-started').length, 1, seen.join(', '));
  if (seen.includes('h1:video-started'))
    assert.ok(
      seen.indexOf('h1:video-started') < seen.indexOf('h1:camera-off'),
      `the first picture before the camera went off: ${seen.join(', ')}`,
    );
}
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function hostEventsReachBus(bus: MessageBus, dataDir: string): Promise<string[]> {
  const outbox = await Outbox.open({ dataDir, bus });
  outbox.start();
  const seen: string[] = [];
  const sub = await bus.subscribe(
    { name: 'host-events-test', typePrefix: 'tapedeck.host.' },
    async (d: Delivery) => {
      assertHostEvent(d.event);
      seen.push(`${d.event.data.hostId}:${d.event.data.change}`);
      await d.ack();
    },
  );
  const rig = await startLiveRig(dataDir);
  const stop = announceHostEvents(rig.ingest, outbox);
  const publishers: Publisher[] = [];
  try {
    publishers.push(startPublisher(rig, 'h1'));
    await rig.waitFor((e) => e.event.type === 'joined', 20_000);
    publishers[0]!.send('camera off');
    await rig.waitFor((e) => e.event.type === 'camera-off', 10_000);
    await stopPublishers(publishers.splice(0), 'SIGTERM');
    await rig.waitFor((e) => e.event.type === 'left', 15_000);
    await outbox.drain(10_000);
    for (let i = 0; i < 100 && seen.length < 4; i++) await new Promise((r) => setTimeout(r, 100));
  } finally {
    stop();
    await stopPublishers(publishers, 'SIGKILL');
    await rig.close();
    await sub.close();
    await outbox.close();
    await bus.close();
  }
  return seen;
}

test('host events reach the embedded bus as CloudEvents', { timeout: 90_000 }, async () => {
  const dir = await tempDir('host-events-');
  dirs.push(dir);
  const seen = await hostEventsReachBus(await openBus('embedded', { dataDir: dir }), dir);
  assertSeen(seen);
});

test('host events reach NATS JetStream as CloudEvents', { timeout: 90_000 }, async () => {
  const dir = await tempDir('host-events-nats-');
  dirs.push(dir);
  const nats = await startNatsServer();
  try {
    const seen = await hostEventsReachBus(await openBus(nats.url, { dataDir: dir }), dir);
    assertSeen(seen);
  } finally {
    await nats.stop();
  }
});
