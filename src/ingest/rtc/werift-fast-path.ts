/**
 * Faster equivalents of the two functions werift runs for every received RTP packet, installed in
 * place of its own: the RTP header parser (called twice per packet, once inside SRTP and once
 * after it) and the AES-CM/HMAC-SHA1-80 SRTP decrypt, the only profile GStreamer 1.22's DTLS
 * offers. werift reads header bits by formatting bytes as strings, builds the CTR counter through
 * a BigInt and copies each packet twice; these do the same work with bit operations and one copy.
 *
 * Results are identical, errors included (test/ingest/rtc/werift-fast-path.test.ts compares both
 * on random and malformed packets). If the bundled werift no longer has the expected shape,
 * nothing is replaced and werift's own code runs: slower, never wrong.
 */
import { createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { RtpHeader, SrtpAuthenticationError, SrtpSession } from 'werift';

const AES_CM_SHA1_80 = 1;
const AUTH_TAG_LENGTH = 10;
const MIN_RTP_HEADER = 12;
const FAIL = 'Failed to authenticate SRTP packet';

interface RtpHeaderFields {
  version: number;
  padding: boolean;
  paddingSize: number;
  extension: boolean;
  marker: boolean;
  payloadOffset: number;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcLength: number;
  csrc: number[];
  extensionProfile: number;
  extensionLength?: number;
  extensions: { id: number; payload: Buffer }[];
}

interface CtrCipher {
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  srtpSessionAuthTag: Buffer;
  authTagLength: number;
}

type DecryptRtp = (
  this: CtrCipher,
  cipherText: Buffer,
  rolloverCounter: number,
  header?: RtpHeaderFields,
) => [Buffer, RtpHeaderFields];

type HeaderParser = (raw: Buffer) => RtpHeaderFields;

export interface WeriftOriginals {
  deSerializeHeader: HeaderParser;
  decryptRtp: DecryptRtp;
}

const ONE_BYTE = 0xbede;
const TWO_BYTE = 0x1000;

/** RtpHeader.deSerialize, field for field, including where werift stops on odd extensions. */
export function parseRtpHeader(raw: Buffer): RtpHeaderFields {
  const h = new RtpHeader() as unknown as RtpHeaderFields;
  const first = raw[0]!;
  h.version = first >>> 6;
  h.padding = (first & 0x20) !== 0;
  h.extension = (first & 0x10) !== 0;
  const csrcLength = first & 0x0f;
  h.csrcLength = csrcLength;
  const second = raw[1]!;
  h.marker = (second & 0x80) !== 0;
  h.payloadType = second & 0x7f;
  h.sequenceNumber = raw.readUInt16BE(2);
  h.timestamp = raw.readUInt32BE(4);
  h.ssrc = raw.readUInt32BE(8);
  const csrc: number[] = [];
  for (let i = 0; i < csrcLength; i++) csrc.push(raw.readUInt32BE(MIN_RTP_HEADER + i * 4));
  h.csrc = csrc;
  let offset = MIN_RTP_HEADER + csrcLength * 4;
  if (h.extension) {
    const profile = raw.readUInt16BE(offset);
    h.extensionProfile = profile;
    const extensionLength = raw.readUInt16BE(offset + 2) * 4;
    h.extensionLength = extensionLength;
    offset += 4;
    const end = offset + extensionLength;
    const extensions: { id: number; payload: Buffer }[] = [];
    if (profile === ONE_BYTE) {
      while (offset < end) {
        const b = raw[offset]!;
        if (b === 0) {
          offset++;
          continue;
        }
        const id = b >> 4;
        const len = (b & (b ^ 0xf0)) + 1;
        offset++;
        if (id === 15) break;
        extensions.push({ id, payload: raw.subarray(offset, offset + len) });
        offset += len;
      }
    } else if (profile === TWO_BYTE) {
      while (offset < end) {
        if (raw[offset] === 0) {
          offset++;
          continue;
        }
        const id = raw[offset]!;
        offset++;
        const len = raw[offset]!;
        offset++;
        extensions.push({ id, payload: raw.subarray(offset, offset + len) });
        offset += len;
      }
    } else {
      const payload = raw.subarray(offset, offset + extensionLength);
      extensions.push({ id: 0, payload });
      offset += payload.length;
    }
    h.extensions = extensions;
  }
  h.payloadOffset = offset;
  if (h.padding) h.paddingSize = raw[raw.length - 1]!;
  return h;
}

// createHmac and createDecipheriv copy what they are given at once, so one scratch serves all.
const rocBytes = Buffer.alloc(4);
const counter = Buffer.alloc(16);

function authFailure(): never {
  throw new SrtpAuthenticationError(FAIL);
}

/** werift's CipherAesCtr.decryptRtp (RFC 3711 AES-CM, HMAC-SHA1 80-bit tag). */
export function decryptRtpAesCm(
  this: CtrCipher,
  cipherText: Buffer,
  rolloverCounter: number,
  header?: RtpHeaderFields,
): [Buffer, RtpHeaderFields] {
  const h = header ?? parseSrtpHeader(cipherText);
  const authTagOffset = cipherText.length - AUTH_TAG_LENGTH;
  rocBytes.writeUInt32BE(rolloverCounter >>> 0, 0);
  const expected = createHmac('sha1', this.srtpSessionAuthTag)
    .update(cipherText.subarray(0, authTagOffset))
    .update(rocBytes)
    .digest();
  const actual = cipherText.subarray(authTagOffset);
  if (!timingSafeEqual(actual, expected.subarray(0, AUTH_TAG_LENGTH))) authFailure();

  const salt = this.srtpSessionSalt;
  for (let i = 0; i < 14; i++) counter[i] = salt[i]!;
  counter[14] = 0;
  counter[15] = 0;
  const ssrc = h.ssrc;
  counter[4]! ^= ssrc >>> 24;
  counter[5]! ^= (ssrc >>> 16) & 0xff;
  counter[6]! ^= (ssrc >>> 8) & 0xff;
  counter[7]! ^= ssrc & 0xff;
  counter[8]! ^= (rolloverCounter >>> 24) & 0xff;
  counter[9]! ^= (rolloverCounter >>> 16) & 0xff;
  counter[10]! ^= (rolloverCounter >>> 8) & 0xff;
  counter[11]! ^= rolloverCounter & 0xff;
  counter[12]! ^= (h.sequenceNumber >>> 8) & 0xff;
  counter[13]! ^= h.sequenceNumber & 0xff;

  const payloadOffset = h.payloadOffset;
  const plain = createDecipheriv('aes-128-ctr', this.srtpSessionKey, counter).update(
    cipherText.subarray(payloadOffset, authTagOffset),
  );
  const dst = Buffer.allocUnsafe(authTagOffset);
  cipherText.copy(dst, 0, 0, payloadOffset);
  plain.copy(dst, payloadOffset);

  if (!h.padding) {
    h.paddingSize = 0;
  } else {
    if (dst.length <= payloadOffset) authFailure();
    const paddingSize = dst[dst.length - 1]!;
    if (paddingSize <= 0 || paddingSize > dst.length - payloadOffset) authFailure();
    h.paddingSize = paddingSize;
  }
  return [dst, h];
}

/** werift's parseSrtpRtpHeader, used only when a caller passes no parsed header. */
function parseSrtpHeader(packet: Buffer): RtpHeaderFields {
  const authTagOffset = packet.length - AUTH_TAG_LENGTH;
  if (packet.length < MIN_RTP_HEADER + AUTH_TAG_LENGTH) authFailure();
  let h: RtpHeaderFields;
  try {
    h = parseRtpHeader(packet.subarray(0, authTagOffset));
  } catch {
    return authFailure();
  }
  h.paddingSize = 0;
  if (h.payloadOffset < MIN_RTP_HEADER || h.payloadOffset > authTagOffset) authFailure();
  return h;
}

let installed: WeriftOriginals | undefined;

/**
 * Two ends of one AES-CM SRTP session with fresh random keys: what the sender encrypts, every
 * receiver made decrypts (each with its own rollover state).
 */
export function srtpSessionPair(): { sender: SrtpSession; newReceiver: () => SrtpSession } {
  const [a, b] = [
    { key: randomBytes(16), salt: randomBytes(14) },
    { key: randomBytes(16), salt: randomBytes(14) },
  ];
  const session = (local: typeof a, remote: typeof a) =>
    new SrtpSession({
      keys: {
        localMasterKey: local.key,
        localMasterSalt: local.salt,
        remoteMasterKey: remote.key,
        remoteMasterSalt: remote.salt,
      },
      profile: AES_CM_SHA1_80,
    } as ConstructorParameters<typeof SrtpSession>[0]);
  return { sender: session(a, b), newReceiver: () => session(b, a) };
}

/** The cipher a session decrypts received packets with: werift does not export its class. */
export function receivingCipher(session: SrtpSession): object | undefined {
  return (session as unknown as { remoteContext?: { cipher?: object } }).remoteContext?.cipher;
}

/** The AES-CM cipher class, reached through a throwaway session. */
function ctrCipherPrototype(): { decryptRtp?: unknown } | undefined {
  const cipher = receivingCipher(srtpSessionPair().newReceiver()) as CtrCipher | undefined;
  if (!cipher || cipher.authTagLength !== AUTH_TAG_LENGTH) return undefined;
  if (!Buffer.isBuffer(cipher.srtpSessionSalt) || cipher.srtpSessionSalt.length !== 14) {
    return undefined;
  }
  return Object.getPrototypeOf(cipher) as { decryptRtp?: unknown };
}

/**
 * Replaces werift's per-packet functions with the ones above, once per process. Returns the
 * originals (for tests), or undefined when werift's shape is not the expected one.
 */
export function installWeriftFastPath(): WeriftOriginals | undefined {
  if (installed) return installed;
  const headerClass = RtpHeader as unknown as { deSerialize?: unknown };
  const proto = ctrCipherPrototype();
  if (typeof headerClass.deSerialize !== 'function' || typeof proto?.decryptRtp !== 'function') {
    return undefined;
  }
  installed = {
    deSerializeHeader: headerClass.deSerialize as HeaderParser,
    decryptRtp: proto.decryptRtp as DecryptRtp,
  };
  headerClass.deSerialize = parseRtpHeader;
  proto.decryptRtp = decryptRtpAesCm;
  return installed;
}
