import { createHash } from 'node:crypto';
import { type CloudEvent, envelopeProblems, EventSchemaError } from './cloudevent.ts';
import { assertId, isValidId } from './ids.ts';
import type { TimeRange } from './time-range.ts';

export const HELD_UP_EVENT_TYPE = 'tapedeck.recording.held-up';
export const HELD_UP_EVENT_SCHEMA = 'urn:tapedeck:schema:recording.held-up:1';

/**
 * A stretch in which the recorder itself was held up (the machine starved its process, or it was
 * stopped): its recording holds silence and a still picture there that the host never sent.
 * Scoring leaves it out, so a reviewer is not sent the recorder's fault as the host's.
 */
export interface RecorderHeldUp {
  livestreamId: string;
  track: string;
  recordingId: string;
  /** ms since the epoch, the estimate's middle; either end may be off by up to withinMs. */
  fromMs: number;
  toMs: number;
  withinMs: number;
  /**
   * 'picture': only the picture was held, the sound went on (a composite that showed
   * placeholders while its hosts' pictures, served by their own recordings, had not reached it).
   */
  media?: HeldUpMedia;
}

/** What a hold-up held: both sound and picture, or the picture alone. */
export type HeldUpMedia = 'both' | 'picture';

export interface HeldUpEventData {
  livestreamId: string;
  track: string;
  recordingId: string;
  from: string;
  to: string;
  durationMs: number;
  withinMs: number;
  /** Absent in events from before it was told: both. */
  media?: HeldUpMedia;
}

export function heldUpCloudEvent(h: RecorderHeldUp): CloudEvent<HeldUpEventData> {
  assertId('livestream id', h.livestreamId);
  assertId('track', h.track);
  if (!(h.toMs > h.fromMs)) throw new EventSchemaError(['a hold-up ends after it starts']);
  const from = new Date(Math.round(h.fromMs));
  const to = new Date(Math.round(h.toMs));
  const event: CloudEvent<HeldUpEventData> = {
    specversion: '1.0',
    id: createHash('sha256')
      .update(
        `held-up:${h.livestreamId}/${h.track}/${h.recordingId}/${from.getTime()}` +
          (h.media === 'picture' ? '/picture' : ''),
      )
      .digest('hex')
      .slice(0, 32),
    source: `tapedeck/${h.livestreamId}/${h.recordingId}`,
    type: HELD_UP_EVENT_TYPE,
    time: to.toISOString(),
    subject: `${h.livestreamId}/${h.track}`,
    datacontenttype: 'application/json',
    dataschema: HELD_UP_EVENT_SCHEMA,
    data: {
      livestreamId: h.livestreamId,
      track: h.track,
      recordingId: h.recordingId,
      from: from.toISOString(),
      to: to.toISOString(),
      durationMs: to.getTime() - from.getTime(),
      withinMs: Math.round(h.withinMs),
      ...(h.media === 'picture' ? { media: 'picture' as const } : {}),
    },
  };
  const p = heldUpEventProblems(event);
  if (p.length) throw new EventSchemaError(p);
  return event;
}

export function heldUpEventProblems(value: unknown): string[] {
  const p = envelopeProblems(value);
  if (p.length) return p;
  const e = value as CloudEvent<Record<string, unknown>>;
  const d = e.data;
  if (typeof d !== 'object' || d === null) return ['data must be an object'];
  if (e.type !== HELD_UP_EVENT_TYPE) p.push(`type must be ${HELD_UP_EVENT_TYPE}`);
  if (e.dataschema !== HELD_UP_EVENT_SCHEMA) p.push(`dataschema must be ${HELD_UP_EVENT_SCHEMA}`);
  if (!isValidId(d.livestreamId)) p.push('data.livestreamId must be an id');
  if (!isValidId(d.track)) p.push('data.track must be an id');
  if (typeof d.recordingId !== 'string' || d.recordingId === '')
    p.push('data.recordingId must be a string');
  const from = Date.parse(String(d.from));
  const to = Date.parse(String(d.to));
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from)
    p.push('data.from and data.to must be times, from before to');
  else if (d.durationMs !== to - from) p.push('data.durationMs must be to - from');
  if (typeof d.withinMs !== 'number' || !(d.withinMs >= 0))
    p.push('data.withinMs must be a number of ms, 0 or more');
  if (d.media !== undefined && d.media !== 'both' && d.media !== 'picture')
    p.push("data.media must be 'both' or 'picture' when given");
  return p;
}

/**
 * The stretch scoring leaves out for a hold-up: widened by its uncertainty on both sides, so
 * the whole of it is left out wherever in its bounds it truly lay.
 */
export function heldUpRange(d: HeldUpEventData): HeldUpRange {
  return {
    startMs: Date.parse(d.from) - d.withinMs,
    endMs: Date.parse(d.to) + d.withinMs,
    media: d.media ?? 'both',
  };
}

export interface HeldUpRange extends TimeRange {
  media: HeldUpMedia;
}
