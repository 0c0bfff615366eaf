import { isValidId } from './ids.ts';

/** A request body or parameter the control API refuses, with what was wrong. */
export class RequestError extends Error {
  override name = 'RequestError';
}

export const MAX_HOSTS = 16;

export interface CreateLivestream {
  livestreamId: string | null;
  hostIds: string[];
}

/** `{ "livestreamId"?: ID, "hosts": [ID…] }` or `{ "hostCount": N }`. */
export function parseCreateLivestream(body: unknown): CreateLivestream {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RequestError('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!['livestreamId', 'hosts', 'hostCount'].includes(k))
      throw new RequestError(`unknown field "${k}"`);
  let livestreamId: string | null = null;
  if (b.livestreamId !== undefined) {
    if (!isValidId(b.livestreamId))
      throw new RequestError('livestreamId must be 1 to 64 of A-Z a-z 0-9 _ -');
    livestreamId = b.livestreamId;
  }
  if (b.hosts !== undefined && b.hostCount !== undefined)
    throw new RequestError('give either hosts or hostCount, not both');
  let hostIds: string[];
  if (b.hosts !== undefined) {
    if (!Array.isArray(b.hosts)) throw new RequestError('hosts must be an array of host ids');
    hostIds = b.hosts.map((h, i) => {
      if (!isValidId(h)) throw new RequestError(`hosts[${i}] is not a valid id`);
      return h;
    });
    if (new Set(hostIds).size !== hostIds.length) throw new RequestError('hosts has duplicates');
  } else {
    const n = b.hostCount ?? 4;
    if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_HOSTS)
      throw new RequestError(`hostCount must be an integer from 1 to ${MAX_HOSTS}`);
    hostIds = Array.from({ length: n as number }, (_, i) => `host${i + 1}`);
  }
  if (hostIds.length < 1 || hostIds.length > MAX_HOSTS)
    throw new RequestError(`a livestream has 1 to ${MAX_HOSTS} hosts`);
  return { livestreamId, hostIds };
}

export const CONTROL_EVENTS = [
  'camera-off',
  'camera-on',
  'microphone-off',
  'microphone-on',
] as const;
export type ControlEvent = (typeof CONTROL_EVENTS)[number];

/** `{ "event": "camera-off" | "camera-on" | "microphone-off" | "microphone-on" }`. */
export function parseHostControl(body: unknown): ControlEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RequestError('the body must be a JSON object');
  const e = (body as Record<string, unknown>).event;
  if (typeof e !== 'string' || !(CONTROL_EVENTS as readonly string[]).includes(e))
    throw new RequestError(`event must be one of ${CONTROL_EVENTS.join(', ')}`);
  return e as ControlEvent;
}
