import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArrivalLag } from '../../../src/ingest/rtc/arrival-lag.ts';

const T = { timeout: 5_000 };
/** 20-ms Opus packets at 48 kHz: 960 ticks each. */
const TICKS = 960;

test('packets on time lag nothing; a publisher that falls behind shows as lag', T, () => {
  const lag = new ArrivalLag(48_000);
  for (let i = 0; i < 50; i++) lag.add(7, i * TICKS, 1_000 + i * 20);
  assert.equal(lag.worstMs, 0);
  // From packet 50 on each comes 2 ms later than the one before: 100 packets, 200 ms behind.
  for (let i = 50; i < 150; i++) lag.add(7, i * TICKS, 1_000 + i * 20 + (i - 49) * 2);
  assert.equal(Math.round(lag.currentMs), 200);
  assert.equal(Math.round(lag.worstMs), 200);
  // Caught up again: the worst is kept.
  lag.add(7, 150 * TICKS, 1_000 + 150 * 20);
  assert.equal(Math.round(lag.currentMs), 0);
  assert.equal(Math.round(lag.worstMs), 200);
});

test('a late first packet makes the soonest later one the reference', T, () => {
  const lag = new ArrivalLag(48_000);
  lag.add(1, 0, 500); // 500 ms late
  for (let i = 1; i < 10; i++) lag.add(1, i * TICKS, i * 20);
  assert.equal(lag.currentMs, 0);
  assert.equal(lag.worstMs, 0);
});

test('timestamps that wrap around 2^32, and a reordered packet, are followed', T, () => {
  const lag = new ArrivalLag(48_000);
  const start = 2 ** 32 - 5 * TICKS;
  for (let i = 0; i < 10; i++) lag.add(3, (start + i * TICKS) >>> 0, i * 20);
  assert.equal(lag.worstMs, 0);
  lag.add(3, (start + 8 * TICKS) >>> 0, 10 * 20); // packet 8 again, 40 ms after its time
  assert.equal(Math.round(lag.currentMs), 40);
});

test('a new SSRC starts afresh and keeps the worst', T, () => {
  const lag = new ArrivalLag(48_000);
  lag.add(1, 0, 0);
  lag.add(1, 48_000, 1_300); // 300 ms late
  lag.add(2, 123, 5_000);
  lag.add(2, 123 + TICKS, 5_020);
  assert.equal(lag.currentMs, 0);
  assert.equal(Math.round(lag.worstMs), 300);
  assert.throws(() => new ArrivalLag(0), /clockRate/);
});
