/**
 * Microseconds per received packet in werift's receive path (SRTP decrypt, then the RTP parse
 * werift does after it), with werift's own code and with tapedeck's fast path:
 *   node --import tsx scripts/werift-fast-path-bench.ts [packets]
 */
import { randomBytes } from 'node:crypto';
import { RtpHeader, RtpPacket } from 'werift';
import { installWeriftFastPath, srtpSessionPair } from '../src/ingest/rtc/werift-fast-path.ts';

const count = Number(process.argv[2] ?? 20_000);
const { sender, newReceiver } = srtpSessionPair();
// Shaped like the load generator's video: 1.1-kB payloads with one header extension.
const packets = Array.from({ length: count }, (_, i) =>
  sender.encrypt(
    randomBytes(1100),
    new RtpHeader({
      sequenceNumber: (60_000 + i) & 0xffff,
      timestamp: i * 6000,
      payloadType: 96,
      ssrc: 0x1234,
      extension: true,
      extensions: [{ id: 3, payload: Buffer.from([1, 2, 3]) }],
    }),
  ),
);

function run(label: string): void {
  const perPacket: number[] = [];
  for (let round = 0; round < 5; round++) {
    const receiver = newReceiver();
    const started = performance.now();
    for (const p of packets) RtpPacket.deSerialize(receiver.decrypt(p));
    perPacket.push(((performance.now() - started) * 1000) / count);
  }
  // The first round warms the JIT up.
  const steady = perPacket.slice(1).sort((a, b) => a - b);
  console.log(
    `${label}: ${steady[Math.floor(steady.length / 2)]!.toFixed(2)} µs per packet (median of ${steady.length} rounds of ${count})`,
  );
}

run("werift's own");
if (!installWeriftFastPath())
  throw new Error('werift does not have the shape the fast path expects');
run('fast path');
