import { createHash } from 'node:crypto';
import { type CloudEvent, envelopeProblems, EventSchemaError } from './cloudevent.ts';
import { isValidId } from './ids.ts';
import { picturesProblems } from './picture-stats.ts';
import type { VideoWindow } from './quality-rules.ts';
import { parseSnippetKey, parseTrack, snippetKey, type Variant } from './snippet-key.ts';

export const SNIPPET_READY = 'tapedeck.snippet.ready';
export const SNIPPET_READY_SCHEMA = 'urn:tapedeck:schema:snippet.ready:1';

export interface VideoParams {
  codec: 'h264';
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
}

export interface AudioParams {
  codec: 'aac' | 'mp3';
  sampleRate: number;
  channels: number;
  bitrateKbps: number;
}

export interface SnippetReady {
  livestreamId: string;
  recordingId: string;
  track: string;
  hostId: string | null;
  variant: Variant;
  seq: number;
  /** UTC from the pipeline clock, ISO 8601 with milliseconds. */
  start: string;
  end: string;
  durationMs: number;
  bytes: number;
  sha256: string;
  key: string;
  /** Present when the recorder had to recover the file (e.g. after a crash cut it short). */
  recovered?: boolean;
  media: { container: Variant; video: VideoParams | null; audio: AudioParams };
  /**
   * MP4 only: the snippet's pictures as they were recorded, shrunk and measured every half second
   * before encoding. Scoring judges the picture on these instead of decoding the file; without
   * them it decodes.
   */
  pictures?: VideoWindow[];
}

/** A stable id: the same snippet always gets the same id, across restarts and retries. */
export function snippetEventId(key: string): string {
  return createHash('sha256').update(`snippet:${key}`).digest('hex').slice(0, 32);
}

export function snippetReadyEvent(
  data: SnippetReady,
  now: Date = new Date(),
): CloudEvent<SnippetReady> {
  const event: CloudEvent<SnippetReady> = {
    specversion: '1.0',
    id: snippetEventId(data.key),
    source: `tapedeck/${data.livestreamId}/${data.recordingId}`,
    type: SNIPPET_READY,
    time: now.toISOString(),
    subject: data.key,
    datacontenttype: 'application/json',
    dataschema: SNIPPET_READY_SCHEMA,
    data,
  };
  assertSnippetReady(event);
  return event;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function posInt(v: unknown, max = Number.MAX_SAFE_INTEGER): boolean {
  return Number.isInteger(v) && (v as number) > 0 && (v as number) <= max;
}

function videoProblems(v: unknown): string[] {
  if (v === null) return [];
  if (!isObject(v)) return ['data.media.video must be an object or null'];
  const p: string[] = [];
  if (v.codec !== 'h264') p.push('data.media.video.codec must be h264');
  for (const f of ['width', 'height', 'fps', 'bitrateKbps'] as const)
    if (!posInt(v[f], 100_000)) p.push(`data.media.video.${f} must be a positive integer`);
  return p;
}

function audioProblems(a: unknown, container: unknown): string[] {
  if (!isObject(a)) return ['data.media.audio must be an object'];
  const p: string[] = [];
  const codec = container === 'mp3' ? 'mp3' : 'aac';
  if (a.codec !== codec) p.push(`data.media.audio.codec must be ${codec} in ${String(container)}`);
  for (const f of ['sampleRate', 'channels', 'bitrateKbps'] as const)
    if (!posInt(a[f], 1_000_000)) p.push(`data.media.audio.${f} must be a positive integer`);
  return p;
}

/** The schema of `tapedeck.snippet.ready`, checked by the producer before the outbox and by every consumer. */
export function snippetReadyProblems(value: unknown): string[] {
  const p = envelopeProblems(value);
  if (p.length > 0) return p;
  const e = value as CloudEvent;
  if (e.type !== SNIPPET_READY) return [`type must be ${SNIPPET_READY}`];
  if (e.dataschema !== SNIPPET_READY_SCHEMA) p.push(`dataschema must be ${SNIPPET_READY_SCHEMA}`);
  const d = e.data;
  if (!isObject(d)) return [...p, 'data must be an object'];
  for (const f of ['livestreamId', 'recordingId'] as const)
    if (!isValidId(d[f])) p.push(`data.${f} must be an id ([A-Za-z0-9_-]{1,64})`);
  let hostId: string | null = null;
  try {
    hostId = parseTrack(String(d.track)).hostId;
  } catch (err) {
    p.push(`data.track: ${(err as Error).message}`);
  }
  if (d.hostId !== hostId) p.push('data.hostId must match the track');
  if (d.variant !== 'mp4' && d.variant !== 'mp3') p.push('data.variant must be mp4 or mp3');
  if (!Number.isInteger(d.seq) || (d.seq as number) < 0 || (d.seq as number) > 999_999)
    p.push('data.seq must be an integer from 0 to 999999');
  for (const f of ['start', 'end'] as const)
    if (typeof d[f] !== 'string' || !ISO_MS.test(d[f] as string))
      p.push(`data.${f} must be UTC like 2026-11-30T08:45:12.000Z`);
  if (!posInt(d.durationMs)) p.push('data.durationMs must be a positive integer');
  if (!posInt(d.bytes)) p.push('data.bytes must be a positive integer');
  if (typeof d.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(d.sha256))
    p.push('data.sha256 must be 64 lowercase hex digits');
  if (d.recovered !== undefined && typeof d.recovered !== 'boolean')
    p.push('data.recovered must be a boolean');
  if (!isObject(d.media)) p.push('data.media must be an object');
  else {
    if (d.media.container !== d.variant) p.push('data.media.container must equal data.variant');
    p.push(...videoProblems(d.media.video), ...audioProblems(d.media.audio, d.media.container));
    if (d.variant === 'mp3' && d.media.video !== null)
      p.push('data.media.video must be null in mp3');
  }
  if (d.pictures !== undefined) {
    if (d.variant !== 'mp4') p.push('data.pictures is for mp4 snippets only');
    else if (posInt(d.durationMs))
      p.push(...picturesProblems(d.pictures, (d.durationMs as number) / 1000));
  }
  if (p.length > 0) return p;
  const startMs = Date.parse(d.start as string);
  const endMs = Date.parse(d.end as string);
  if (endMs <= startMs) p.push('data.end must be after data.start');
  try {
    const k = parseSnippetKey(String(d.key));
    const expected = snippetKey({
      livestreamId: d.livestreamId as string,
      track: d.track as string,
      variant: d.variant as Variant,
      startMs,
      seq: d.seq as number,
    });
    if (expected !== d.key) p.push(`data.key must be ${expected}`);
    else if (k.startMs !== startMs) p.push('data.key must carry data.start');
  } catch (err) {
    p.push(`data.key: ${(err as Error).message}`);
  }
  if (e.id !== snippetEventId(String(d.key))) p.push('id must be the stable id of data.key');
  if (e.subject !== d.key) p.push('subject must be data.key');
  return p;
}

export function assertSnippetReady(value: unknown): asserts value is CloudEvent<SnippetReady> {
  const p = snippetReadyProblems(value);
  if (p.length > 0) throw new EventSchemaError(p);
}
