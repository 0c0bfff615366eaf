import { createHash } from 'node:crypto';
import { type CloudEvent, envelopeProblems, EventSchemaError } from './cloudevent.ts';
import type { HostEvent, HostEventType } from './host-presence.ts';
import { assertId, isValidId } from './ids.ts';

export const HOST_EVENT_PREFIX = 'tapedeck.host.';
export const HOST_EVENT_SCHEMA = 'urn:tapedeck:schema:host.event:1';

const TYPES: readonly HostEventType[] = [
  'joined',
  'left',
  'dropped',
  'resumed',
  'camera-off',
  'camera-on',
  'microphone-off',
  'microphone-on',
  'audio-started',
  'video-started',
];
const CAUSES: readonly HostEvent['cause'][] = ['publish', 'control', 'media', 'grace-expired'];

export interface HostEventData {
  livestreamId: string;
  hostId: string;
  change: HostEventType;
  /** When it happened, ISO 8601 UTC with milliseconds. */
  at: string;
  cause: HostEvent['cause'];
  detail?: string;
}

/** The same change of the same host at the same instant always gets the same id. */
export function hostEventId(livestreamId: string, e: HostEvent): string {
  return createHash('sha256')
    .update(`host:${livestreamId}/${e.hostId}/${e.type}/${e.at}`)
    .digest('hex')
    .slice(0, 32);
}

export function hostCloudEvent(livestreamId: string, e: HostEvent): CloudEvent<HostEventData> {
  assertId('livestream id', livestreamId);
  assertId('host id', e.hostId);
  const event: CloudEvent<HostEventData> = {
    specversion: '1.0',
    id: hostEventId(livestreamId, e),
    source: `tapedeck/${livestreamId}/ingest`,
    type: `${HOST_EVENT_PREFIX}${e.type}`,
    time: new Date(e.at).toISOString(),
    subject: `${livestreamId}/${e.hostId}`,
    datacontenttype: 'application/json',
    dataschema: HOST_EVENT_SCHEMA,
    data: {
      livestreamId,
      hostId: e.hostId,
      change: e.type,
      at: new Date(e.at).toISOString(),
      cause: e.cause,
      ...(e.detail ? { detail: e.detail } : {}),
    },
  };
  assertHostEvent(event);
  return event;
}

export function hostEventProblems(value: unknown): string[] {
  const p = envelopeProblems(value);
  if (p.length) return p;
  const e = value as CloudEvent<Record<string, unknown>>;
  const d = e.data;
  if (typeof d !== 'object' || d === null) return ['data must be an object'];
  if (!isValidId(d.livestreamId)) p.push('data.livestreamId must be an id');
  if (!isValidId(d.hostId)) p.push('data.hostId must be an id');
  if (!TYPES.includes(d.change as HostEventType))
    p.push(`data.change must be one of ${TYPES.join(', ')}`);
  else if (e.type !== `${HOST_EVENT_PREFIX}${String(d.change)}`)
    p.push('type must match data.change');
  if (!CAUSES.includes(d.cause as HostEvent['cause']))
    p.push(`data.cause must be one of ${CAUSES.join(', ')}`);
  if (typeof d.at !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(d.at))
    p.push('data.at must be UTC like 2026-11-30T08:45:12.000Z');
  if (d.detail !== undefined && typeof d.detail !== 'string')
    p.push('data.detail must be a string');
  if (e.dataschema !== HOST_EVENT_SCHEMA) p.push(`dataschema must be ${HOST_EVENT_SCHEMA}`);
  if (p.length === 0) {
    const expected = hostEventId(String(d.livestreamId), {
      type: d.change as HostEventType,
      hostId: String(d.hostId),
      at: Date.parse(String(d.at)),
      cause: d.cause as HostEvent['cause'],
    });
    if (e.id !== expected) p.push('id must be the stable id of the change');
  }
  return p;
}

export function assertHostEvent(value: unknown): asserts value is CloudEvent<HostEventData> {
  const p = hostEventProblems(value);
  if (p.length) throw new EventSchemaError(p);
}
