/** Half-open interval [startMs, endMs) in milliseconds since the Unix epoch. */
export interface TimeRange {
  startMs: number;
  endMs: number;
}

export class TimeRangeError extends Error {
  override name = 'TimeRangeError';
}

export function overlaps(a: TimeRange, b: TimeRange): boolean {
  return a.startMs < b.endMs && b.startMs < a.endMs;
}

/** Accepts ISO 8601 with a zone (`2026-11-30T08:45:12Z`), key times (`20261130T084512.000Z`) or epoch ms. */
export function parseInstant(text: string, what = 'time'): number {
  const t = text.trim();
  if (/^\d{13}$/.test(t)) return Number(t);
  const compact = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?Z$/.exec(t);
  if (compact) {
    const [y, mo, d, h, mi, s] = compact.slice(1, 7).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const ms = Number((compact[7] ?? '0').padEnd(3, '0'));
    return Date.UTC(y, mo - 1, d, h, mi, s, ms);
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) {
    const v = Date.parse(t);
    if (Number.isFinite(v)) return v;
  }
  throw new TimeRangeError(
    `${what} "${text}" is not a time: use ISO 8601 with a zone (2026-11-30T08:45:12Z), ` +
      'a key time (20261130T084512.000Z) or milliseconds since the epoch',
  );
}

export function parseRange(from: string, to: string): TimeRange {
  const range = { startMs: parseInstant(from, '--from'), endMs: parseInstant(to, '--to') };
  if (range.endMs <= range.startMs)
    throw new TimeRangeError(`--to (${to}) must be after --from (${from})`);
  return range;
}
