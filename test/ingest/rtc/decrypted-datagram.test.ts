import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RtpHeader, RtpPacket } from 'werift';
import { decryptedDatagram } from '../../../src/ingest/rtc/werift-session.ts';

const T = { timeout: 5_000 };

/** A decrypted datagram as werift's SRTP hands it on: a fresh buffer, parsed in place. */
function datagram(o: { csrcs?: number; extension?: boolean; padding?: number } = {}): Buffer {
  const csrcs = o.csrcs ?? 0;
  const header = Buffer.alloc(12 + 4 * csrcs);
  header[0] = 0x80 | (o.padding ? 0x20 : 0) | (o.extension ? 0x10 : 0) | csrcs;
  header[1] = 0x80 | 102;
  header.writeUInt16BE(4242, 2);
  header.writeUInt32BE(123456789, 4);
  header.writeUInt32BE(0xdeadbeef, 8);
  for (let i = 0; i < csrcs; i++) header.writeUInt32BE(i + 1, 12 + 4 * i);
  // One-byte header extension (RFC 8285): id 3, two bytes, padded to a word.
  const extension = o.extension ? Buffer.from([0xbe, 0xde, 0, 1, 0x31, 0xaa, 0xbb, 0]) : [];
  const padding = o.padding ? Buffer.alloc(o.padding, 0) : Buffer.alloc(0);
  if (o.padding) padding[o.padding - 1] = o.padding;
  const payload = Buffer.from('payload bytes of a frame');
  return Buffer.concat([header, Buffer.from(extension), payload, padding]);
}

for (const [name, shape] of [
  ['a plain packet', {}],
  ['CSRCs', { csrcs: 2 }],
  ['a header extension', { extension: true }],
  ['padding', { padding: 4 }],
] as const) {
  test(`a parsed packet with ${name} goes on as the very bytes that were decrypted`, T, () => {
    const raw = datagram(shape);
    // werift hands a clone to the track: a new header object, the same payload view.
    const out = decryptedDatagram(RtpPacket.deSerialize(raw).clone());
    assert.deepEqual(out, raw);
    assert.equal(out.buffer, raw.buffer);
    assert.equal(out.byteOffset, raw.byteOffset);
  });
}

test('a datagram inside a larger buffer is found at its own offset', T, () => {
  const raw = datagram({ extension: true });
  const slab = Buffer.concat([Buffer.alloc(100, 7), raw, Buffer.alloc(50, 9)]);
  const inSlab = slab.subarray(100, 100 + raw.length);
  const out = decryptedDatagram(RtpPacket.deSerialize(inSlab).clone());
  assert.deepEqual(out, raw);
  assert.equal(out.byteOffset, inSlab.byteOffset);
});

test('a packet werift put together itself is serialized', T, () => {
  const raw = datagram();
  const parsed = RtpPacket.deSerialize(raw);
  // Like an RTX packet unwrapped: the original sequence number in a header of its own, in front
  // of a payload that sits elsewhere in the buffer.
  const header = new RtpHeader({ ...parsed.header, sequenceNumber: 4000 });
  const rebuilt = new RtpPacket(header, parsed.payload.subarray(2));
  const out = decryptedDatagram(rebuilt);
  assert.notEqual(out.buffer, raw.buffer);
  assert.deepEqual(out, rebuilt.serialize());
  assert.equal(out.readUInt16BE(2), 4000);

  const detached = new RtpPacket(new RtpHeader({ ...parsed.header }), Buffer.from('x'));
  assert.deepEqual(decryptedDatagram(detached), detached.serialize());
});

test('rewriting the forwarded datagram leaves the parsed header alone', T, () => {
  const raw = datagram();
  const packet = RtpPacket.deSerialize(raw).clone();
  const out = decryptedDatagram(packet);
  out.writeUInt16BE(1, 2);
  assert.equal(packet.header.sequenceNumber, 4242);
  assert.equal(packet.payload.toString(), 'payload bytes of a frame');
});
