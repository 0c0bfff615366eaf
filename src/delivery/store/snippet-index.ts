import type { Readable } from 'node:stream';

import {
  KeyError,
  parseSnippetKey,
  rangeStartAfter,
  trackPrefix,
  VARIANTS,
  type Variant,
} from '../../domain/snippet-key.ts';
import type { ObjectStore } from './port.ts';

export interface SnippetRef {
  key: string;
  /** Milliseconds since the Unix epoch (UTC), from the key. */
  startMs: number;
  seq: number;
  variant: Variant;
  bytes: number;
}

export interface ListSnippetsOptions {
  livestreamId: string;
  /** `composite` or `host-{hostId}`. */
  track: string;
  /** Both variants, merged in time order, when absent. */
  variant?: Variant;
  /** Range start, inclusive; from the first snippet when absent. */
  fromMs?: number;
  /** Range end, exclusive; to the last snippet when absent. */
  toMs?: number;
  /**
   * The longest a snippet may last. Keys carry only the start, so a snippet
   * that started up to this long before fromMs may still overlap the range.
   */
  maxSnippetMs?: number;
}

/** Time order; seq and then variant break ties so the order is total. */
function before(a: SnippetRef, b: SnippetRef): boolean {
  if (a.startMs !== b.startMs) return a.startMs < b.startMs;
  if (a.seq !== b.seq) return a.seq < b.seq;
  return a.variant < b.variant;
}

async function* listVariant(
  store: ObjectStore,
  opts: ListSnippetsOptions,
  variant: Variant,
): AsyncGenerator<SnippetRef> {
  const prefix = trackPrefix(opts.livestreamId, opts.track, variant);
  const maxSnippetMs = opts.maxSnippetMs ?? 16_000;
  const lowest = opts.fromMs === undefined ? -Infinity : opts.fromMs - maxSnippetMs;
  const startAfter =
    opts.fromMs === undefined ? undefined : rangeStartAfter(prefix, opts.fromMs, maxSnippetMs);
  for await (const info of store.list(prefix, startAfter === undefined ? {} : { startAfter })) {
    let parts;
    try {
      parts = parseSnippetKey(info.key);
    } catch {
      continue; // Not a snippet (e.g. a file put there by hand): not ours to list.
    }
    if (parts.variant !== variant) continue;
    // Keys sort by start time, so the first one past the range ends the listing.
    if (opts.toMs !== undefined && parts.startMs >= opts.toMs) return;
    if (parts.startMs < lowest) continue;
    yield { key: info.key, startMs: parts.startMs, seq: parts.seq, variant, bytes: info.bytes };
  }
}

/**
 * Snippets of one track whose start lies in [fromMs - maxSnippetMs, toMs), in
 * time order. Callers that know durations drop the early ones that end before
 * fromMs. Listing stops as soon as keys pass toMs. An empty range (toMs <=
 * fromMs) yields nothing.
 */
export async function* listSnippets(
  store: ObjectStore,
  opts: ListSnippetsOptions,
): AsyncGenerator<SnippetRef> {
  trackPrefix(opts.livestreamId, opts.track, 'mp4'); // refuses bad ids even for empty ranges
  if (opts.variant !== undefined && !VARIANTS.includes(opts.variant))
    throw new KeyError(`variant "${String(opts.variant)}" is not mp4 or mp3`);
  // An empty range overlaps nothing, though snippets may start within maxSnippetMs before it.
  if (opts.fromMs !== undefined && opts.toMs !== undefined && opts.toMs <= opts.fromMs) return;
  const variants = opts.variant === undefined ? VARIANTS : [opts.variant];
  const sources = variants.map((v) => listVariant(store, opts, v));
  const pull = async (i: number): Promise<SnippetRef | undefined> => {
    const r = await sources[i]?.next();
    return r === undefined || r.done ? undefined : r.value;
  };
  try {
    const heads = await Promise.all(sources.map((_, i) => pull(i)));
    for (;;) {
      let best = -1;
      heads.forEach((h, i) => {
        const current = heads[best];
        if (h && (!current || before(h, current))) best = i;
      });
      const chosen = heads[best];
      if (!chosen) return;
      yield chosen;
      heads[best] = await pull(best);
    }
  } finally {
    // Ends the store listings early when the caller stops reading.
    await Promise.all(sources.map((s) => s.return(undefined)));
  }
}

/** Streams one snippet; throws NotFoundError when it is absent. */
export function openSnippet(store: ObjectStore, key: string): Promise<Readable> {
  parseSnippetKey(key);
  return store.get(key);
}
