import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArrivalLoss } from '../../../src/ingest/rtc/arrival-loss.ts';

const T = { timeout: 5_000 };

function fed(ssrc: number, seqs: number[], loss = new ArrivalLoss()): ArrivalLoss {
  for (const s of seqs) loss.add(ssrc, s);
  return loss;
}

test('a whole stream loses nothing, across the wrap of sequence numbers', T, () => {
  const seqs = Array.from({ length: 200 }, (_, i) => (65_436 + i) & 0xffff);
  const l = fed(7, seqs);
  assert.deepEqual([l.expected, l.arrived, l.lost], [200, 200, 0]);
});

test('gaps are lost packets, also when they straddle the wrap', T, () => {
  const l = fed(7, [65_533, 65_534, 1, 2, 5]);
  // 65533..5 is 9 numbers; 5 arrived.
  assert.deepEqual([l.expected, l.arrived, l.lost], [9, 5, 4]);
});

test('a late packet fills its gap; a repeat never counts as a loss', T, () => {
  const late = fed(7, [10, 11, 13, 12, 14]);
  assert.equal(late.lost, 0);
  const repeated = fed(7, [10, 11, 11, 12]);
  assert.equal(repeated.lost, 0);
  assert.equal(repeated.expected, 3);
});

test('a new SSRC starts a new count and keeps the old one', T, () => {
  const l = fed(7, [100, 101, 103]);
  fed(9, [5_000, 5_001, 5_002, 5_004], l);
  assert.deepEqual([l.expected, l.arrived, l.lost], [4 + 5, 3 + 4, 2]);
});

test('nothing arrived, nothing expected', T, () => {
  const l = new ArrivalLoss();
  assert.deepEqual([l.expected, l.arrived, l.lost], [0, 0, 0]);
});
