import { createHash } from 'node:crypto';
import { type CloudEvent, envelopeProblems, EventSchemaError } from './cloudevent.ts';
import type { QualityReason, QualityScore } from './quality-rules.ts';
import { parseSnippetKey } from './snippet-key.ts';

export const SNIPPET_SCORED = 'tapedeck.snippet.scored';
export const SNIPPET_SCORED_SCHEMA = 'urn:tapedeck:schema:snippet.scored:1';

/** A snippet's quality, as a scorer found it: what escalation and dashboards read. */
export interface SnippetScored {
  /** The snippet's object key; livestream, track, variant and seq follow from it. */
  key: string;
  livestreamId: string;
  track: string;
  seq: number;
  /** UTC of the snippet, ISO 8601 with milliseconds, copied from its ready event. */
  start: string;
  end: string;
  audio: QualityScore;
  /** Null for an MP3 snippet. */
  video: QualityScore | null;
  /** A score was below the review threshold. */
  review: boolean;
  reviewBelow: number;
}

/** One event per snippet: a scorer that scores it again (a redelivery) publishes the same id. */
export function snippetScoredId(key: string): string {
  return createHash('sha256').update(`scored:${key}`).digest('hex').slice(0, 32);
}

export function snippetScoredEvent(
  data: SnippetScored,
  now: Date = new Date(),
): CloudEvent<SnippetScored> {
  const event: CloudEvent<SnippetScored> = {
    specversion: '1.0',
    id: snippetScoredId(data.key),
    source: `tapedeck/${data.livestreamId}/moderation`,
    type: SNIPPET_SCORED,
    time: now.toISOString(),
    subject: data.key,
    datacontenttype: 'application/json',
    dataschema: SNIPPET_SCORED_SCHEMA,
    data,
  };
  const p = snippetScoredProblems(event);
  if (p.length) throw new EventSchemaError(p);
  return event;
}

const IMPAIRMENTS = new Set(['silence', 'clipping', 'noise', 'black', 'frozen']);
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function scoreProblems(field: string, v: unknown, kinds: string[]): string[] {
  if (typeof v !== 'object' || v === null) return [`${field} must be an object`];
  const s = v as { score?: unknown; reasons?: unknown };
  const p: string[] = [];
  if (!Number.isInteger(s.score) || (s.score as number) < 0 || (s.score as number) > 100)
    p.push(`${field}.score must be an integer from 0 to 100`);
  if (!Array.isArray(s.reasons)) return [...p, `${field}.reasons must be an array`];
  (s.reasons as Partial<QualityReason>[]).forEach((r, i) => {
    if (!IMPAIRMENTS.has(String(r?.impairment)) || !kinds.includes(String(r.impairment)))
      p.push(`${field}.reasons[${i}].impairment must be one of ${kinds.join(', ')}`);
    if (
      typeof r?.fromSec !== 'number' ||
      typeof r.toSec !== 'number' ||
      !(r.fromSec >= 0 && r.toSec > r.fromSec)
    )
      p.push(`${field}.reasons[${i}] must have 0 <= fromSec < toSec`);
  });
  return p;
}

/** The schema of `tapedeck.snippet.scored`, checked by the scorer and by every consumer. */
export function snippetScoredProblems(value: unknown): string[] {
  const p = envelopeProblems(value);
  if (p.length) return p;
  const e = value as CloudEvent<Record<string, unknown>>;
  if (e.type !== SNIPPET_SCORED) return [`type must be ${SNIPPET_SCORED}`];
  if (e.dataschema !== SNIPPET_SCORED_SCHEMA) p.push(`dataschema must be ${SNIPPET_SCORED_SCHEMA}`);
  const d = e.data;
  if (typeof d !== 'object' || d === null) return [...p, 'data must be an object'];
  let variant: string | undefined;
  try {
    const k = parseSnippetKey(String(d.key));
    variant = k.variant;
    if (d.livestreamId !== k.livestreamId) p.push('data.livestreamId must match the key');
    if (d.track !== k.track) p.push('data.track must match the key');
    if (d.seq !== k.seq) p.push('data.seq must match the key');
  } catch (err) {
    p.push(`data.key: ${(err as Error).message}`);
  }
  for (const f of ['start', 'end'] as const)
    if (typeof d[f] !== 'string' || !ISO_MS.test(d[f] as string))
      p.push(`data.${f} must be UTC like 2026-11-30T08:45:12.000Z`);
  p.push(...scoreProblems('data.audio', d.audio, ['silence', 'clipping', 'noise']));
  if (variant === 'mp3' && d.video !== null) p.push('data.video must be null for an mp3 snippet');
  if (d.video !== null) p.push(...scoreProblems('data.video', d.video, ['black', 'frozen']));
  if (typeof d.reviewBelow !== 'number' || !(d.reviewBelow >= 0 && d.reviewBelow <= 100))
    p.push('data.reviewBelow must be 0 to 100');
  if (typeof d.review !== 'boolean') p.push('data.review must be a boolean');
  else if (p.length === 0) {
    const below = (s: unknown) =>
      (s as QualityScore | null)?.score !== undefined &&
      (s as QualityScore).score < (d.reviewBelow as number);
    if (d.review !== (below(d.audio) || below(d.video)))
      p.push('data.review must say whether a score is below data.reviewBelow');
  }
  return p;
}

export function assertSnippetScored(value: unknown): asserts value is CloudEvent<SnippetScored> {
  const p = snippetScoredProblems(value);
  if (p.length) throw new EventSchemaError(p);
}
