import { createHash } from 'node:crypto';
import { type CloudEvent, envelopeProblems, EventSchemaError } from './cloudevent.ts';
import { assertId, isValidId } from './ids.ts';

export const GAP_EVENT_TYPE = 'tapedeck.recording.gap';
export const GAP_EVENT_SCHEMA = 'urn:tapedeck:schema:recording.gap:1';

/**
 * A stretch of a track that may hold no snippet: its recording was lost (the worker died) and a
 * new one took over. Announced so that nothing is missing silently: every moment of a track is
 * in a snippet or inside an announced gap.
 */
export interface RecordingGap {
  livestreamId: string;
  track: string;
  /** The recording that was lost, and the one that took over. */
  lostRecordingId: string;
  nextRecordingId: string;
  /** ms since the epoch: the lost recording's last sign of life, and the new one's start. */
  fromMs: number;
  toMs: number;
  reason: string;
}

export interface GapEventData {
  livestreamId: string;
  track: string;
  lostRecordingId: string;
  nextRecordingId: string;
  from: string;
  to: string;
  durationMs: number;
  reason: string;
}

export function gapEventId(g: RecordingGap): string {
  return createHash('sha256')
    .update(`gap:${g.livestreamId}/${g.track}/${g.lostRecordingId}/${g.fromMs}`)
    .digest('hex')
    .slice(0, 32);
}

export function gapCloudEvent(g: RecordingGap): CloudEvent<GapEventData> {
  assertId('livestream id', g.livestreamId);
  assertId('track', g.track);
  if (!(g.toMs >= g.fromMs)) throw new EventSchemaError(['a gap ends after it starts']);
  const event: CloudEvent<GapEventData> = {
    specversion: '1.0',
    id: gapEventId(g),
    source: `tapedeck/${g.livestreamId}/orchestration`,
    type: GAP_EVENT_TYPE,
    time: new Date(g.toMs).toISOString(),
    subject: `${g.livestreamId}/${g.track}`,
    datacontenttype: 'application/json',
    dataschema: GAP_EVENT_SCHEMA,
    data: {
      livestreamId: g.livestreamId,
      track: g.track,
      lostRecordingId: g.lostRecordingId,
      nextRecordingId: g.nextRecordingId,
      from: new Date(g.fromMs).toISOString(),
      to: new Date(g.toMs).toISOString(),
      durationMs: g.toMs - g.fromMs,
      reason: g.reason,
    },
  };
  const p = gapEventProblems(event);
  if (p.length) throw new EventSchemaError(p);
  return event;
}

export function gapEventProblems(value: unknown): string[] {
  const p = envelopeProblems(value);
  if (p.length) return p;
  const e = value as CloudEvent<Record<string, unknown>>;
  const d = e.data;
  if (typeof d !== 'object' || d === null) return ['data must be an object'];
  if (e.type !== GAP_EVENT_TYPE) p.push(`type must be ${GAP_EVENT_TYPE}`);
  if (e.dataschema !== GAP_EVENT_SCHEMA) p.push(`dataschema must be ${GAP_EVENT_SCHEMA}`);
  if (!isValidId(d.livestreamId)) p.push('data.livestreamId must be an id');
  if (!isValidId(d.track)) p.push('data.track must be an id');
  const from = Date.parse(String(d.from));
  const to = Date.parse(String(d.to));
  if (!Number.isFinite(from) || !Number.isFinite(to) || to < from)
    p.push('data.from and data.to must be times, from before to');
  else if (d.durationMs !== to - from) p.push('data.durationMs must be to - from');
  return p;
}
