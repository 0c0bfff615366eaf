/**
 * Reads an SDP offer (RFC 8866, JSEP flavour) just far enough to refuse garbage at
 * the edge and to know which payload types a recording can use. It does not build
 * answers: whoever terminates WebRTC does that from the parsed offer and the plan.
 */

export const DEFAULT_MAX_SDP_BYTES = 64 * 1024;

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface RtpFormat {
  pt: number;
  /** Encoding name as offered (case kept); compare with `codecKey`. */
  codec: string;
  clockRate: number;
  channels?: number;
  /** Parameters of `a=fmtp`, keys lower-cased. */
  fmtp: Record<string, string>;
  rtcpFb: string[];
}

export interface MediaSection {
  index: number;
  /** `audio`, `video`, `application` or whatever else was offered. */
  kind: string;
  port: number;
  protocol: string;
  mid?: string;
  direction: Direction;
  bundleOnly: boolean;
  /**
   * Port 0 without `a=bundle-only` means the offerer rejected the section. With
   * bundle-only (GStreamer's webrtcbin does this) the section rides on the bundle.
   */
  rejected: boolean;
  formats: RtpFormat[];
  iceUfrag?: string;
  icePwd?: string;
  fingerprint?: { algorithm: string; value: string };
  setup?: string;
}

export interface ParsedOffer {
  /** Each `a=group:BUNDLE` as its list of mids. */
  bundles: string[][];
  media: MediaSection[];
}

export type ParseResult = { ok: true; offer: ParsedOffer } | { ok: false; reason: string };

const LINE = /^([a-z])=(.*)$/;
// Tab is tolerated; other control characters have no business in SDP text.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;
const M_LINE = /^(\S+) (\d+)(?:\/\d+)? (\S+)((?: \S+)*)$/;
const RTPMAP = /^(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?$/;
const DIRECTIONS: readonly string[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

interface Draft {
  section: MediaSection;
  byPt: Map<number, RtpFormat>;
}

export function parseOffer(sdp: string, maxBytes = DEFAULT_MAX_SDP_BYTES): ParseResult {
  const fail = (reason: string): ParseResult => ({ ok: false, reason });
  if (Buffer.byteLength(sdp, 'utf8') > maxBytes) return fail(`SDP is over ${maxBytes} bytes`);
  const lines = sdp.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== 'v=0') return fail('SDP must start with "v=0"');

  const session: Partial<MediaSection> = {};
  let sessionDirection: Direction = 'sendrecv';
  const bundles: string[][] = [];
  const drafts: Draft[] = [];

  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    const where = `line ${n + 1}`;
    if (CONTROL.test(line)) return fail(`${where} holds a control character`);
    const m = LINE.exec(line);
    if (!m) return fail(`${where} is not of the form "x=value"`);
    const [, type, value] = m as unknown as [string, string, string];
    const current = drafts[drafts.length - 1];

    if (type === 'm') {
      const mm = M_LINE.exec(value);
      if (!mm) return fail(`${where}: malformed m= line`);
      const port = Number(mm[2]);
      if (port > 65535) return fail(`${where}: port ${port} out of range`);
      const fmts = (mm[4] ?? '').trim().split(' ').filter(Boolean);
      const section: MediaSection = {
        index: drafts.length,
        kind: mm[1] as string,
        port,
        protocol: mm[3] as string,
        direction: sessionDirection,
        bundleOnly: false,
        rejected: false,
        formats: [],
      };
      const byPt = new Map<number, RtpFormat>();
      if (section.protocol.includes('RTP')) {
        for (const f of fmts) {
          if (!/^\d{1,3}$/.test(f) || Number(f) > 127)
            return fail(`${where}: payload type "${f}" is not 0-127`);
          const fmt: RtpFormat = { pt: Number(f), codec: '', clockRate: 0, fmtp: {}, rtcpFb: [] };
          byPt.set(fmt.pt, fmt);
          section.formats.push(fmt);
        }
      }
      drafts.push({ section, byPt });
      continue;
    }
    if (type !== 'a') continue;

    const colon = value.indexOf(':');
    const name = colon < 0 ? value : value.slice(0, colon);
    const arg = colon < 0 ? '' : value.slice(colon + 1);
    const target: Partial<MediaSection> = current ? current.section : session;

    if (DIRECTIONS.includes(name)) {
      if (current) current.section.direction = name as Direction;
      else sessionDirection = name as Direction;
    } else if (name === 'group') {
      const [semantics, ...mids] = arg.split(' ').filter(Boolean);
      if (semantics === 'BUNDLE') bundles.push(mids);
    } else if (name === 'ice-ufrag') target.iceUfrag = arg;
    else if (name === 'ice-pwd') target.icePwd = arg;
    else if (name === 'setup') target.setup = arg;
    else if (name === 'fingerprint') {
      const [algorithm, fp] = arg.split(' ');
      if (!algorithm || !fp) return fail(`${where}: malformed fingerprint`);
      target.fingerprint = { algorithm: algorithm.toLowerCase(), value: fp };
    } else if (current) {
      const problem = mediaAttribute(current, name, arg);
      if (problem) return fail(`${where}: ${problem}`);
    }
  }

  if (drafts.length === 0) return fail('SDP has no m= line');
  const media = drafts.map(({ section }) => {
    section.iceUfrag ??= session.iceUfrag;
    section.icePwd ??= session.icePwd;
    section.fingerprint ??= session.fingerprint;
    section.setup ??= session.setup;
    section.rejected = section.port === 0 && !section.bundleOnly;
    return section;
  });
  return { ok: true, offer: { bundles, media } };
}

function mediaAttribute({ section, byPt }: Draft, name: string, arg: string): string | undefined {
  switch (name) {
    case 'mid':
      if (arg === '') return 'empty mid';
      section.mid = arg;
      return undefined;
    case 'bundle-only':
      section.bundleOnly = true;
      return undefined;
    case 'rtpmap': {
      const r = RTPMAP.exec(arg);
      if (!r) return `malformed rtpmap "${arg}"`;
      const fmt = byPt.get(Number(r[1]));
      if (!fmt) return `rtpmap for payload type ${r[1]} not listed on the m= line`;
      fmt.codec = r[2] as string;
      fmt.clockRate = Number(r[3]);
      if (r[4] !== undefined) fmt.channels = Number(r[4]);
      return undefined;
    }
    case 'fmtp': {
      const sp = arg.indexOf(' ');
      const fmt = byPt.get(Number(sp < 0 ? arg : arg.slice(0, sp)));
      if (!fmt) return undefined;
      for (const pair of (sp < 0 ? '' : arg.slice(sp + 1)).split(';')) {
        const eq = pair.indexOf('=');
        if (eq > 0) fmt.fmtp[pair.slice(0, eq).trim().toLowerCase()] = pair.slice(eq + 1).trim();
      }
      return undefined;
    }
    case 'rtcp-fb': {
      const sp = arg.indexOf(' ');
      if (sp < 0) return `malformed rtcp-fb "${arg}"`;
      const pt = arg.slice(0, sp);
      const fb = arg.slice(sp + 1).trim();
      const targets = pt === '*' ? [...byPt.values()] : [byPt.get(Number(pt))];
      for (const fmt of targets) fmt?.rtcpFb.push(fb);
      return undefined;
    }
    default:
      return undefined;
  }
}

export function codecKey(fmt: RtpFormat): string {
  return fmt.codec.toUpperCase();
}

export type RecordableCodec = 'H264' | 'VP8' | 'OPUS';

export interface SectionPlan {
  index: number;
  mid?: string;
  kind: 'audio' | 'video';
  pt: number;
  codec: RecordableCodec;
  clockRate: number;
  channels?: number;
  fmtp: Record<string, string>;
  /** Retransmission payload type bound to `pt` by `apt=`, when offered. */
  rtxPt?: number;
}

export interface RecordingPlan {
  sections: SectionPlan[];
  /** Sections that carry nothing to record (rejected, receive-only, data channels). */
  skipped: { index: number; mid?: string; kind: string; reason: string }[];
}

export type PlanResult =
  { ok: true; plan: RecordingPlan } | { ok: false; reason: string; offered: string[] };

/**
 * Lower ranks win. Constrained baseline 42e01f is what every decoder and browser
 * agrees on; other packetization-mode 1 profiles still decode, VP8 comes last only
 * because H.264 keeps the whole chain (depayload to recording) free of a transcode.
 */
function videoRank(fmt: RtpFormat): number | undefined {
  const codec = codecKey(fmt);
  if (fmt.clockRate !== 90000) return undefined;
  if (codec === 'VP8') return 4;
  if (codec !== 'H264' || fmt.fmtp['packetization-mode'] !== '1') return undefined;
  const pli = (fmt.fmtp['profile-level-id'] ?? '').toLowerCase();
  if (pli === '42e01f') return 0;
  const idc = pli.slice(0, 2);
  const iop = parseInt(pli.slice(2, 4), 16);
  if (/^[0-9a-f]{6}$/.test(pli) && idc === '42' && (iop & 0x40) !== 0) return 1;
  if (idc === '42') return 2;
  return 3;
}

function audioRank(fmt: RtpFormat): number | undefined {
  return codecKey(fmt) === 'OPUS' && fmt.clockRate === 48000 && fmt.channels === 2 ? 0 : undefined;
}

const HELPERS = new Set(['RTX', 'RED', 'ULPFEC', 'FLEXFEC-03', 'CN', 'TELEPHONE-EVENT']);

function describe(fmt: RtpFormat): string {
  const base = `${fmt.codec || `pt ${fmt.pt}`}/${fmt.clockRate}`;
  const withCh = fmt.channels !== undefined ? `${base}/${fmt.channels}` : base;
  const pm = fmt.fmtp['packetization-mode'];
  return codecKey(fmt) === 'H264' ? `${withCh} packetization-mode=${pm ?? '0'}` : withCh;
}

export function planRecording(offer: ParsedOffer): PlanResult {
  const sections: SectionPlan[] = [];
  const skipped: RecordingPlan['skipped'] = [];
  const unrecordable: string[] = [];

  for (const s of offer.media) {
    const skip = (reason: string) =>
      skipped.push({ index: s.index, mid: s.mid, kind: s.kind, reason });
    if (s.kind !== 'audio' && s.kind !== 'video') skip(`${s.kind} is not recorded`);
    else if (s.rejected) skip('port 0 without bundle-only');
    else if (s.direction === 'recvonly' || s.direction === 'inactive') skip(`${s.direction}`);
    else {
      const rank = s.kind === 'video' ? videoRank : audioRank;
      let best: { fmt: RtpFormat; rank: number } | undefined;
      for (const fmt of s.formats) {
        const r = rank(fmt);
        if (r !== undefined && (best === undefined || r < best.rank)) best = { fmt, rank: r };
      }
      if (!best) {
        const names = s.formats.filter((f) => !HELPERS.has(codecKey(f))).map(describe);
        unrecordable.push(
          `${s.kind}${s.mid ? ` (mid ${s.mid})` : ''}: ${names.join(', ') || 'nothing'}`,
        );
        continue;
      }
      const { fmt } = best;
      const rtx = s.formats.find((f) => codecKey(f) === 'RTX' && f.fmtp['apt'] === String(fmt.pt));
      sections.push({
        index: s.index,
        mid: s.mid,
        kind: s.kind,
        pt: fmt.pt,
        codec: codecKey(fmt) as RecordableCodec,
        clockRate: fmt.clockRate,
        channels: fmt.channels,
        fmtp: fmt.fmtp,
        rtxPt: rtx?.pt,
      });
    }
  }

  const offered = offer.media
    .filter((s) => s.kind === 'audio' || s.kind === 'video')
    .map(
      (s) =>
        `${s.kind}: ${s.formats
          .filter((f) => !HELPERS.has(codecKey(f)))
          .map(describe)
          .join(', ')}`,
    );
  if (unrecordable.length > 0)
    return {
      ok: false,
      reason: `no codec we can record in ${unrecordable.join('; ')} (we record H264 packetization-mode=1, VP8, opus/48000/2)`,
      offered,
    };
  if (sections.length === 0)
    return {
      ok: false,
      reason: 'no codec we can record: the offer sends no audio or video',
      offered,
    };
  return { ok: true, plan: { sections, skipped } };
}
