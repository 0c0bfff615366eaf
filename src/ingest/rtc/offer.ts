/**
 * Rewrites a publisher's SDP offer before werift sees it, so that werift's answer
 * accepts only what a recorder can take. Pure: no werift, no sockets.
 */

export type MediaKind = 'video' | 'audio';
export type RecordableCodec = 'H264' | 'VP8' | 'OPUS';

export interface ChosenCodec {
  kind: MediaKind;
  mid: string;
  codec: RecordableCodec;
  payloadType: number;
  clockRate: number;
  /** The offer's fmtp for that payload, '' when none. */
  fmtp: string;
}

export interface PreparedOffer {
  sdp: string;
  video?: ChosenCodec;
  audio?: ChosenCodec;
}

export interface PrepareOfferOptions {
  /**
   * Drop every ICE candidate not on 127.0.0.1 (mDNS names included), so connectivity
   * checks never leave loopback. Tests and benchmarks need this; production does not.
   */
  loopbackOnly: boolean;
}

/** The offer is not SDP we understand (a WHIP server answers 400). */
export class MalformedOfferError extends Error {
  override name = 'MalformedOfferError';
}

/** No audio or video codec we can record (a WHIP server answers 422). */
export class NoRecordableCodecError extends Error {
  override name = 'NoRecordableCodecError';
}

interface Section {
  lines: string[];
}

interface Rtpmap {
  payloadType: number;
  name: string;
  clockRate: number;
}

function parseRtpmaps(lines: readonly string[]): Rtpmap[] {
  const maps: Rtpmap[] = [];
  for (const line of lines) {
    const m = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)/.exec(line);
    if (m)
      maps.push({ payloadType: Number(m[1]), name: m[2]!.toUpperCase(), clockRate: Number(m[3]) });
  }
  return maps;
}

function fmtpOf(lines: readonly string[], payloadType: number): string {
  const prefix = `a=fmtp:${payloadType} `;
  return lines.find((l) => l.startsWith(prefix))?.slice(prefix.length) ?? '';
}

function fmtpValue(fmtp: string, key: string): string | undefined {
  for (const part of fmtp.split(';')) {
    const [k, v] = part.split('=');
    if (k?.trim().toLowerCase() === key) return v?.trim();
  }
  return undefined;
}

/**
 * Prefers H.264 in packetization mode 1 with a baseline profile (what every browser and
 * x264 in zerolatency send, and what decodes cheapest), then any mode-1 H.264, then VP8.
 */
function chooseVideo(lines: readonly string[]): Rtpmap | undefined {
  const maps = parseRtpmaps(lines);
  const h264 = maps.filter(
    (m) =>
      m.name === 'H264' && fmtpValue(fmtpOf(lines, m.payloadType), 'packetization-mode') === '1',
  );
  const baseline = h264.find((m) =>
    /^42/i.test(fmtpValue(fmtpOf(lines, m.payloadType), 'profile-level-id') ?? ''),
  );
  return baseline ?? h264[0] ?? maps.find((m) => m.name === 'VP8');
}

function chooseAudio(lines: readonly string[]): Rtpmap | undefined {
  return parseRtpmaps(lines).find((m) => m.name === 'OPUS' && m.clockRate === 48000);
}

const PAYLOAD_ATTRIBUTE = /^a=(rtpmap|fmtp|rtcp-fb):(\d+|\*)[ ]/;

function keepOnlyPayload(section: Section, payloadType: number): void {
  const [mline, ...rest] = section.lines;
  const parts = mline!.split(' ');
  section.lines = [
    [...parts.slice(0, 3), String(payloadType)].join(' '),
    ...rest.filter((line) => {
      const m = PAYLOAD_ATTRIBUTE.exec(line);
      if (m && m[2] !== '*' && Number(m[2]) !== payloadType) return false;
      // TWCC broke the publisher's bandwidth estimate when werift answered it; REMB
      // is sent instead, so neither the feedback nor its header extension is kept.
      if (/^a=rtcp-fb:\S+ transport-cc/.test(line)) return false;
      if (/^a=extmap:\d+\S* \S*transport-wide-cc/.test(line)) return false;
      // RTX and FEC streams go with the payloads just removed.
      if (/^a=ssrc-group:FID /.test(line)) return false;
      return true;
    }),
  ];
}

function isLoopbackCandidate(line: string): boolean {
  const parts = line.split(' ');
  return parts[4] === '127.0.0.1' && (parts[2] ?? '').toUpperCase() === 'UDP';
}

export function prepareOffer(offer: string, options: PrepareOfferOptions): PreparedOffer {
  const lines = offer.split(/\r?\n/).filter((l) => l !== '');
  if (lines[0] !== 'v=0' || !lines.some((l) => l.startsWith('m='))) {
    throw new MalformedOfferError('offer is not an SDP session description');
  }
  const session: string[] = [];
  const sections: Section[] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) sections.push({ lines: [line] });
    else if (sections.length === 0) session.push(line);
    else sections[sections.length - 1]!.lines.push(line);
  }

  const prepared: PreparedOffer = { sdp: '' };
  for (const section of sections) {
    const mline = section.lines[0]!;
    const kind = /^m=(\w+) /.exec(mline)?.[1];
    if (kind !== 'video' && kind !== 'audio') continue;
    const chosen = kind === 'video' ? chooseVideo(section.lines) : chooseAudio(section.lines);
    const mid = section.lines.find((l) => l.startsWith('a=mid:'))?.slice('a=mid:'.length);
    if (chosen === undefined || mid === undefined || prepared[kind] !== undefined) {
      throw new NoRecordableCodecError(
        `${kind} m-line ${mid ?? '(no mid)'} has no codec we record, or a second ${kind} track`,
      );
    }
    prepared[kind] = {
      kind,
      mid,
      codec: chosen.name as RecordableCodec,
      payloadType: chosen.payloadType,
      clockRate: chosen.clockRate,
      fmtp: fmtpOf(section.lines, chosen.payloadType),
    };
    keepOnlyPayload(section, chosen.payloadType);
    // A bundled m-line at port 0 with a=bundle-only is not rejected (RFC 8843), but
    // werift reads port 0 as rejected and never raises its track.
    if (section.lines.includes('a=bundle-only') && / 0 /.test(mline)) {
      section.lines[0] = section.lines[0]!.replace(/^(m=\w+) 0 /, '$1 9 ');
    }
    if (options.loopbackOnly) {
      section.lines = section.lines.filter(
        (l) => !l.startsWith('a=candidate:') || isLoopbackCandidate(l),
      );
    }
  }
  if (prepared.video === undefined && prepared.audio === undefined) {
    throw new NoRecordableCodecError('offer has neither audio nor video');
  }
  prepared.sdp = [...session, ...sections.flatMap((s) => s.lines)].join('\r\n') + '\r\n';
  return prepared;
}

/** RTP caps a GStreamer udpsrc needs for a chosen codec. */
export function rtpCaps(chosen: ChosenCodec): string {
  const encoding = chosen.codec === 'VP8' ? 'VP8' : chosen.codec;
  return (
    `application/x-rtp,media=${chosen.kind},clock-rate=${chosen.clockRate},` +
    `encoding-name=${encoding},payload=${chosen.payloadType}`
  );
}
