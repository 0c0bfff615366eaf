import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { HostEvent } from '../../src/domain/host-presence.ts';
import type { LiveIngest } from '../../src/ingest/live-ingest.ts';
import { LivestreamGoneError, relayHostEvents } from '../../src/orchestration/host-event-relay.ts';

const event = (hostId: string, type: HostEvent['type']): HostEvent =>
  ({ hostId, type, at: Date.now() }) as HostEvent;

test(
  'host events reach the sink in order per livestream, through failures, and drained livestreams are forgotten',
  { timeout: 20_000 },
  async () => {
    const ingest = new EventEmitter();
    const got: string[] = [];
    let failuresLeft = 2;
    const warnings: string[] = [];
    const relay = relayHostEvents(
      ingest as unknown as LiveIngest,
      {
        hostEvent(livestreamId, e) {
          if (livestreamId === 'a' && failuresLeft > 0) {
            failuresLeft--;
            return Promise.reject(new Error('Temporal unreachable'));
          }
          got.push(`${livestreamId}:${e.hostId}:${e.type}`);
          return Promise.resolve();
        },
      },
      (w) => warnings.push(w),
    );
    try {
      for (let i = 0; i < 50; i++) {
        const livestreamId = i < 3 ? 'a' : `show-${i}`;
        ingest.emit('host', { livestreamId, event: event(`h${i}`, 'joined') });
      }
      // For scoring only: the workflows are not signalled for it.
      ingest.emit('host', { livestreamId: 'a', event: event('h0', 'audio-started') });
      ingest.emit('host', { livestreamId: 'a', event: event('h0', 'left') });
      assert.ok(relay.busyLivestreams() > 0);
      await relay.idle();
      // The forgetting runs one turn after each queue drains.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        got.filter((g) => g.startsWith('a:')),
        ['a:h0:joined', 'a:h1:joined', 'a:h2:joined', 'a:h0:left'],
      );
      assert.equal(got.length, 51);
      assert.equal(warnings.length, 1, 'one warning for the first failed attempt');
      assert.equal(relay.busyLivestreams(), 0);
    } finally {
      relay.stop();
    }
    assert.equal(ingest.listenerCount('host'), 0);
  },
);

test(
  "a livestream whose workflow is gone loses its events, and waiting for one livestream never waits for another's retries",
  { timeout: 20_000 },
  async () => {
    const ingest = new EventEmitter();
    const got: string[] = [];
    const warnings: string[] = [];
    let stuckAttempts = 0;
    const relay = relayHostEvents(
      ingest as unknown as LiveIngest,
      {
        hostEvent(livestreamId, e) {
          if (livestreamId === 'gone')
            return Promise.reject(
              new LivestreamGoneError('livestream gone has no workflow running'),
            );
          if (livestreamId === 'stuck') {
            stuckAttempts++;
            return Promise.reject(new Error('Temporal unreachable'));
          }
          got.push(`${livestreamId}:${e.hostId}:${e.type}`);
          return Promise.resolve();
        },
      },
      (w) => warnings.push(w),
    );
    try {
      ingest.emit('host', { livestreamId: 'stuck', event: event('h1', 'joined') });
      ingest.emit('host', { livestreamId: 'gone', event: event('h1', 'joined') });
      ingest.emit('host', { livestreamId: 'gone', event: event('h1', 'left') });
      ingest.emit('host', { livestreamId: 'a', event: event('h1', 'joined') });
      // Before, a stop of 'a' waited for every livestream's queue: for ever behind 'stuck'.
      await relay.idle('a');
      await relay.idle('gone');
      await relay.idle('never-seen');
      assert.deepEqual(got, ['a:h1:joined']);
      assert.deepEqual(
        warnings.filter((w) => /dropped/.test(w)),
        [
          'host event joined of gone/h1 dropped: livestream gone has no workflow running',
          'host event left of gone/h1 dropped: livestream gone has no workflow running',
        ],
      );
      // 'stuck' is still being retried: only its own livestream's stop would wait for it.
      assert.ok(stuckAttempts >= 1);
      await new Promise((r) => setImmediate(r));
      assert.equal(relay.busyLivestreams(), 1);
    } finally {
      relay.stop();
    }
  },
);
