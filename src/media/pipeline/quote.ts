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
