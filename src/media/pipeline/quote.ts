/** Quotes a value for a GStreamer launch description; the parser takes C-style escapes inside quotes. */
export function quote(value: string): string {
  return '"' + value.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

/** A structure string nested in a launch description property, e.g. muxer-properties. */
export function structure(name: string, fields: Record<string, string | number | boolean>): string {
  const parts = Object.entries(fields).map(([k, v]) => {
    if (typeof v === 'number') return `${k}=(guint64)${v}`;
    if (typeof v === 'boolean') return `${k}=(boolean)${v}`;
    return `${k}=${v}`;
  });
  return quote([name, ...parts].join(','));
}

export const SECOND_NS = 1_000_000_000;
export const seconds = (s: number): number => Math.round(s * SECOND_NS);

/**
 * A launch description as gst-launch-1.0's arguments. gst-launch escapes the spaces of each
 * argument outside quotes, so a description passed whole would be one word: it is split at
 * the spaces outside quotes instead.
 */
export function launchArgs(description: string): string[] {
  const args: string[] = [];
  let current = '';
  let inQuotes = false;
  for (let i = 0; i < description.length; i++) {
    const c = description[i]!;
    if (c === '\\' && inQuotes && i + 1 < description.length) {
      current += c + description[++i]!;
      continue;
    }
    if (c === '"') inQuotes = !inQuotes;
    if (c === ' ' && !inQuotes) {
      if (current) args.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  if (current) args.push(current);
  return args;
}
