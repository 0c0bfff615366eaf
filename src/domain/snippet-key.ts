import { assertId } from './ids.ts';

/**
 * Object keys: `{livestreamId}/{track}/{variant}/{startUtc}_{seq}.{ext}`.
 * The start comes first in the file name so that keys of one track and variant
 * sort by time, and a time range becomes a listing from one key to another.
 */
export type Variant = 'mp4' | 'mp3';
export const VARIANTS: readonly Variant[] = ['mp4', 'mp3'];

export interface SnippetKeyParts {
  livestreamId: string;
  /** `composite` or `host-{hostId}`. */
  track: string;
  variant: Variant;
  /** Start of the snippet, milliseconds since the Unix epoch (UTC). */
  startMs: number;
  seq: number;
}

export class KeyError extends Error {
  override name = 'KeyError';
}

export const COMPOSITE_TRACK = 'composite';
export const MAX_SEQ = 999_999;

export function hostTrack(hostId: string): string {
  return `host-${assertId('host id', hostId)}`;
}

/** The track a recording of this kind belongs to: the composite's, or its host's. */
export function recordingTrack(kind: 'composite' | 'host' | 'audio', hostId?: string): string {
  return kind === 'composite' ? COMPOSITE_TRACK : hostTrack(hostId!);
}

/** Validates a track name; returns the host id for host tracks, null for the composite. */
export function parseTrack(track: string): { hostId: string | null } {
  if (track === COMPOSITE_TRACK) return { hostId: null };
  const m = /^host-(.+)$/.exec(track);
  if (!m || track.length > 64 + 5)
    throw new KeyError(`track "${track}" is not "composite" or "host-<hostId>"`);
  assertId('host id', m[1]);
  return { hostId: m[1]! };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `20261130T084512.000Z`: compact, sortable, still readable. */
export function formatKeyTime(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0 || ms >= 253402300800000)
    throw new KeyError(`time ${ms} ms is outside the years 1970 to 9999`);
  const d = new Date(Math.floor(ms));
  return (
    `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}` +
    `.${pad(d.getUTCMilliseconds(), 3)}Z`
  );
}

const KEY_TIME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

export function parseKeyTime(text: string): number {
  const m = KEY_TIME.exec(text);
  if (!m) throw new KeyError(`"${text}" is not a key time like 20261130T084512.000Z`);
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const value = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (formatKeyTime(value) !== text) throw new KeyError(`"${text}" is not a real date and time`);
  return value;
}

export function trackPrefix(livestreamId: string, track: string, variant: Variant): string {
  assertId('livestream id', livestreamId);
  parseTrack(track);
  return `${livestreamId}/${track}/${variant}/`;
}

export function snippetKey(p: SnippetKeyParts): string {
  if (!VARIANTS.includes(p.variant))
    throw new KeyError(`variant "${String(p.variant)}" is not mp4 or mp3`);
  if (!Number.isInteger(p.seq) || p.seq < 0 || p.seq > MAX_SEQ)
    throw new KeyError(`sequence number ${p.seq} is not between 0 and ${MAX_SEQ}`);
  return `${trackPrefix(p.livestreamId, p.track, p.variant)}${formatKeyTime(p.startMs)}_${pad(p.seq, 6)}.${p.variant}`;
}

const KEY = /^([^/]+)\/([^/]+)\/(mp4|mp3)\/([^/_]+)_(\d{6})\.(mp4|mp3)$/;

/** The inverse of snippetKey; refuses anything snippetKey would not have made. */
export function parseSnippetKey(key: string): SnippetKeyParts {
  const m = KEY.exec(key);
  if (!m || m[3] !== m[6]) throw new KeyError(`"${key}" is not a snippet key`);
  const parts: SnippetKeyParts = {
    livestreamId: m[1]!,
    track: m[2]!,
    variant: m[3] as Variant,
    startMs: parseKeyTime(m[4]!),
    seq: Number(m[5]),
  };
  if (snippetKey(parts) !== key) throw new KeyError(`"${key}" is not a snippet key`);
  return parts;
}

/**
 * The first key of a listing that can hold snippets overlapping [fromMs, ...):
 * a snippet that started up to `maxSnippetMs` earlier may still be running at fromMs.
 */
export function rangeStartAfter(prefix: string, fromMs: number, maxSnippetMs: number): string {
  const start = Math.max(0, fromMs - maxSnippetMs);
  // "_" sorts after the digits and "." of the time, so every key of `start` is after this marker.
  return `${prefix}${formatKeyTime(start)}`;
}
