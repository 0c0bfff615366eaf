/**
 * CloudEvents 1.0, structured JSON mode: the envelope every bus adapter carries.
 * Adapters move these as opaque JSON; what `data` holds is checked by the event's own schema.
 */
export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  /** Stable per fact (e.g. per snippet), so consumers deduplicate by it. */
  id: string;
  source: string;
  type: string;
  time: string;
  subject?: string;
  datacontenttype: 'application/json';
  dataschema?: string;
  data: T;
}

export class EventSchemaError extends Error {
  override name = 'EventSchemaError';
  constructor(readonly problems: readonly string[]) {
    super(`event does not match its schema: ${problems.join('; ')}`);
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the envelope only; returns the list of problems (empty when valid). */
export function envelopeProblems(value: unknown): string[] {
  if (!isObject(value)) return ['event is not a JSON object'];
  const p: string[] = [];
  if (value.specversion !== '1.0') p.push('specversion must be "1.0"');
  for (const f of ['id', 'source', 'type'] as const) {
    const v = value[f];
    if (typeof v !== 'string' || v.length === 0 || v.length > 512)
      p.push(`${f} must be a non-empty string`);
  }
  if (typeof value.time !== 'string' || !RFC3339.test(value.time))
    p.push('time must be an RFC 3339 timestamp');
  if (value.subject !== undefined && typeof value.subject !== 'string')
    p.push('subject must be a string');
  if (value.datacontenttype !== 'application/json')
    p.push('datacontenttype must be application/json');
  if (value.dataschema !== undefined && typeof value.dataschema !== 'string')
    p.push('dataschema must be a string');
  if (!('data' in value)) p.push('data is missing');
  return p;
}

export function assertEnvelope(value: unknown): asserts value is CloudEvent {
  const p = envelopeProblems(value);
  if (p.length > 0) throw new EventSchemaError(p);
}

export function encodeEvent(event: CloudEvent): Buffer {
  return Buffer.from(JSON.stringify(event), 'utf8');
}

export function decodeEvent(bytes: Uint8Array | string): CloudEvent {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new EventSchemaError([`not JSON: ${(err as Error).message}`]);
  }
  assertEnvelope(value);
  return value;
}
