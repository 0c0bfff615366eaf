import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { RtpHeader, SrtpAuthenticationError, SrtpSession } from 'werift';
import {
  decryptRtpAesCm,
  installWeriftFastPath,
  parseRtpHeader,
  receivingCipher,
  srtpSessionPair,
  type WeriftOriginals,
} from '../../../src/ingest/rtc/werift-fast-path.ts';
import { seededRandom } from '../../../src/bench/seeded-random.ts';

const originals = installWeriftFastPath();

function installedOriginals(): WeriftOriginals {
  assert.ok(originals, 'the pinned werift has the shape the fast path expects');
  return originals;
}

type Outcome = { value: unknown } | { error: string };

function outcome(fn: () => unknown): Outcome {
  try {
    return { value: fn() };
  } catch (error) {
    return { error: error instanceof SrtpAuthenticationError ? 'srtp-auth' : 'thrown' };
  }
}

/** RTP packets of every header shape werift parses, including broken extension blocks. */
function rtpPacket(rand: () => number): Buffer {
  const pick = (n: number) => Math.floor(rand() * n);
  const csrcCount = rand() < 0.8 ? 0 : pick(16);
  const extension = rand() < 0.7;
  const padding = rand() < 0.15;
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12 + csrcCount * 4);
  head[0] = (2 << 6) | (padding ? 0x20 : 0) | (extension ? 0x10 : 0) | csrcCount;
  head[1] = (rand() < 0.3 ? 0x80 : 0) | pick(128);
  head.writeUInt16BE(pick(65536), 2);
  head.writeUInt32BE(pick(2 ** 32), 4);
  head.writeUInt32BE(pick(2 ** 32), 8);
  for (let i = 0; i < csrcCount; i++) head.writeUInt32BE(pick(2 ** 32), 12 + i * 4);
  parts.push(head);
  if (extension) {
    const profile = [0xbede, 0x1000, 0x1234][pick(3)]!;
    const words = pick(5);
    const ext = Buffer.alloc(4 + words * 4);
    ext.writeUInt16BE(profile, 0);
    ext.writeUInt16BE(words, 2);
    // Random bytes make valid, zero-padded, oversized and id-15 elements alike.
    for (let i = 4; i < ext.length; i++) ext[i] = rand() < 0.3 ? 0 : pick(256);
    parts.push(ext);
  }
  parts.push(randomBytes(pick(1200)));
  if (padding) {
    const size = 1 + pick(8);
    const pad = Buffer.alloc(size);
    pad[size - 1] = rand() < 0.9 ? size : pick(256);
    parts.push(pad);
  }
  return Buffer.concat(parts);
}

test('the fast RTP header parser gives what werift gives, for good and broken packets', () => {
  const { deSerializeHeader } = installedOriginals();
  const rand = seededRandom(7);
  let parsed = 0;
  for (let i = 0; i < 5000; i++) {
    const packet = rtpPacket(rand);
    const cut = rand() < 0.2 ? packet.subarray(0, Math.floor(rand() * 40)) : packet;
    const want = outcome(() => deSerializeHeader(cut));
    const got = outcome(() => parseRtpHeader(cut));
    assert.deepEqual(got, want, `packet ${cut.toString('hex').slice(0, 80)}`);
    if ('value' in want) parsed++;
  }
  assert.ok(parsed > 3500, `most packets parse (${parsed})`);
  assert.equal((RtpHeader as unknown as { deSerialize: unknown }).deSerialize, parseRtpHeader);
});

function sessions(): { tx: SrtpSession; rx: { cipher: object; session: SrtpSession } } {
  const { sender, newReceiver } = srtpSessionPair();
  const session = newReceiver();
  const cipher = receivingCipher(session);
  assert.ok(cipher);
  return { tx: sender, rx: { cipher, session } };
}

test('the fast SRTP decrypt gives what werift gives, and refuses what werift refuses', () => {
  const { decryptRtp } = installedOriginals();
  const rand = seededRandom(11);
  const { tx, rx } = sessions();
  let decrypted = 0;
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const plain = rtpPacket(rand);
    const header = outcome(() => parseRtpHeader(plain));
    if (!('value' in header) || Number.isNaN((header.value as RtpHeader).payloadOffset)) continue;
    const h = header.value as RtpHeader;
    if (h.payloadOffset > plain.length) continue;
    // What the sender encrypts: werift's own encrypt, the reference for the receiving side.
    let packet = tx.encrypt(plain.subarray(h.payloadOffset), h);
    if (rand() < 0.1) {
      packet = Buffer.from(packet);
      packet[Math.floor(rand() * packet.length)]! ^= 1 + Math.floor(rand() * 255);
    }
    // A wrong rollover counter fails authentication like a tampered byte.
    const roc = rand() < 0.95 ? 0 : 1 + Math.floor(rand() * (2 ** 32 - 1));
    const headerFor = () => {
      const parsed = outcome(() => parseRtpHeader(packet.subarray(0, packet.length - 10)));
      return 'value' in parsed ? (parsed.value as RtpHeader) : undefined;
    };
    const a = headerFor();
    const b = headerFor();
    if (!a || !b || a.payloadOffset > packet.length - 10) continue;
    const want = outcome(() => decryptRtp.call(rx.cipher as never, packet, roc, a as never));
    const got = outcome(() => decryptRtpAesCm.call(rx.cipher as never, packet, roc, b as never));
    assert.deepEqual(got, want, `packet ${i}`);
    if ('value' in want) decrypted++;
    else refused++;
  }
  assert.ok(decrypted > 1500, `most packets decrypt (${decrypted})`);
  assert.ok(refused > 100, `tampered packets are refused (${refused})`);
});

test('a whole SRTP session decrypts through the fast path to the sent packet', () => {
  installedOriginals();
  const { tx, rx } = sessions();
  // Sequence numbers wrap, so the rollover counter moves on inside the session.
  for (let i = 0; i < 70_000; i += 7) {
    const header = new RtpHeader({
      sequenceNumber: (65_000 + i) & 0xffff,
      timestamp: i * 90,
      payloadType: 96,
      ssrc: 0x1234abcd,
      marker: i % 5 === 0,
    });
    const payload = randomBytes(100 + (i % 1000));
    const plain = Buffer.concat([header.serialize(header.serializeSize), payload]);
    assert.deepEqual(rx.session.decrypt(tx.encrypt(payload, header)), plain);
  }
});
