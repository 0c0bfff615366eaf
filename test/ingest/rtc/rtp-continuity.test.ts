import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RtpContinuity } from '../../../src/ingest/rtc/rtp-continuity.ts';

const T = { timeout: 5_000 };

function packet(ssrc: number, seq: number, ts: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(ssrc, 8);
  b.write('data', 12);
  return b;
}

const fields = (b: Buffer) => ({
  ssrc: b.readUInt32BE(8),
  seq: b.readUInt16BE(2),
  ts: b.readUInt32BE(4),
});

test('the first session goes through unchanged', T, () => {
  const c = new RtpContinuity(90_000);
  for (const [seq, ts] of [
    [65534, 4294967000],
    [65535, 4294967000],
    [0, 2704],
  ] as const) {
    const p = packet(0xaaaa, seq, ts);
    c.rewrite(p, 1000);
    assert.deepEqual(fields(p), { ssrc: 0xaaaa, seq, ts });
    assert.equal(p.toString('utf8', 12), 'data');
  }
});

test(
  'a new session carries on the first one: same SSRC, one sequence number left out, time since the last packet',
  T,
  () => {
    const c = new RtpContinuity(90_000);
    c.rewrite(packet(0xaaaa, 100, 9000), 1000);
    c.rewrite(packet(0xaaaa, 101, 12000), 1033);
    // Reordered: it must not drag the next session's numbers back.
    c.rewrite(packet(0xaaaa, 99, 6000), 1033);
    const first = packet(0xbbbb, 50_000, 4_000_000_000);
    c.rewrite(first, 3033);
    assert.deepEqual(fields(first), { ssrc: 0xaaaa, seq: 103, ts: 12000 + 2 * 90_000 });
    const next = packet(0xbbbb, 50_001, 4_000_003_000);
    c.rewrite(next, 3066);
    assert.deepEqual(fields(next), { ssrc: 0xaaaa, seq: 104, ts: 12000 + 2 * 90_000 + 3000 });
  },
);

test('anything but RTP is left alone', T, () => {
  const c = new RtpContinuity(90_000);
  const short = Buffer.from([0x80, 96, 0, 1]);
  c.rewrite(short);
  assert.deepEqual([...short], [0x80, 96, 0, 1]);
  const notRtp = packet(1, 2, 3);
  notRtp[0] = 0x40;
  c.rewrite(notRtp);
  assert.deepEqual(fields(notRtp), { ssrc: 1, seq: 2, ts: 3 });
});
