/**
 * Whether an RTP payload begins a picture a decoder can start from. A recorder shows nothing of a
 * host before that: connecting, a keyframe lost or asked for again all delay it after the first
 * video packet. The ingest marks the first one it forwards as the host's video start, so scoring
 * does not take the lead-in for a black camera.
 */

const H264_IDR = 5;
const H264_SPS = 7;
const H264_STAP_A = 24;
const H264_FU_A = 28;

/**
 * H.264 (RFC 6184): a parameter set or an IDR slice, alone, in an aggregation packet (STAP-A) or
 * at the start of a fragmented one (FU-A). Publishers send the SPS right before the IDR.
 */
function h264StartsPicture(p: Uint8Array): boolean {
  if (p.length < 1) return false;
  const type = p[0]! & 0x1f;
  if (type === H264_IDR || type === H264_SPS) return true;
  if (type === H264_FU_A) {
    if (p.length < 2) return false;
    const start = (p[1]! & 0x80) !== 0;
    return start && (p[1]! & 0x1f) === H264_IDR;
  }
  if (type === H264_STAP_A) {
    // Units of a 16-bit size followed by the NAL unit.
    for (let at = 1; at + 2 < p.length;) {
      const size = (p[at]! << 8) | p[at + 1]!;
      if (size === 0 || at + 2 + size > p.length) return false;
      const inner = p[at + 2]! & 0x1f;
      if (inner === H264_IDR || inner === H264_SPS) return true;
      at += 2 + size;
    }
  }
  return false;
}

/**
 * VP8 (RFC 7741): the payload descriptor's S bit with partition 0, then the payload header's P
 * bit clear (a key frame).
 */
function vp8StartsPicture(p: Uint8Array): boolean {
  if (p.length < 1) return false;
  const extended = (p[0]! & 0x80) !== 0;
  const start = (p[0]! & 0x10) !== 0;
  const partition = p[0]! & 0x0f;
  if (!start || partition !== 0) return false;
  let at = 1;
  if (extended) {
    if (p.length < 2) return false;
    const x = p[1]!;
    at = 2;
    if (x & 0x80) {
      // PictureID: 7 or 15 bits.
      if (at >= p.length) return false;
      at += p[at]! & 0x80 ? 2 : 1;
    }
    if (x & 0x40) at += 1; // TL0PICIDX
    if (x & 0x30) at += 1; // TID/Y/KEYIDX
  }
  if (at >= p.length) return false;
  return (p[at]! & 0x01) === 0;
}

export function startsPicture(codec: string, payload: Uint8Array): boolean {
  switch (codec.toUpperCase()) {
    case 'H264':
      return h264StartsPicture(payload);
    case 'VP8':
      return vp8StartsPicture(payload);
    default:
      return false;
  }
}
