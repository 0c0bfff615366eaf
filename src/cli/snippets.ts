import { REVIEWS_FOLDER } from '../domain/escalation.ts';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertId } from '../domain/ids.ts';
import { parseSnippetKey, parseTrack } from '../domain/snippet-key.ts';
import { parseInstant } from '../domain/time-range.ts';
import { listSnippets } from '../delivery/store/snippet-index.ts';
import { openStore } from '../delivery/store/open.ts';
import type { ObjectStore } from '../delivery/store/port.ts';
import { defaultStoreUrl, DeliverySetupError } from '../recorder/delivery-runtime.ts';
import { parseOptions, UsageError, type Command } from './command.ts';

interface Row {
  key: string;
  track: string;
  variant: string;
  seq: number;
  start: string;
  end: string | null;
  bytes: number;
}

/** Tracks of a livestream, from its keys (`{livestream}/{track}/...`). */
async function tracksOf(store: ObjectStore, livestreamId: string): Promise<string[]> {
  const tracks = new Set<string>();
  for await (const o of store.list(`${livestreamId}/`)) {
    const track = o.key.split('/')[1]!;
    if (track !== REVIEWS_FOLDER) tracks.add(track);
  }
  return [...tracks].sort();
}

export const snippetsCommand: Command = {
  name: 'snippets',
  help: `Usage: tapedeck snippets list --livestream ID [options]
       tapedeck snippets get KEY [--store URL | --out DIR] > snippet.mp4

Lists delivered snippets in time order. Keys sort by time, so a range is read as a listing from
one key to another, not by scanning the whole store. A snippet is listed when any part of it lies
in [--from, --to).

"get" streams one snippet to standard output (or --file FILE), checked against its stored SHA-256.

Options:
  --livestream ID     the livestream                                           [required]
  --track T           composite or host-<hostId>                        [default: every track]
  --from TIME         start of the range: ISO 8601 with a zone (2026-11-30T08:45:12Z), a key
                      time (20261130T084512.000Z) or epoch milliseconds
  --to TIME           end of the range (exclusive)
  --store URL         file://DIR or s3://BUCKET/PREFIX (credentials as for record)
  --out DIR           shorthand for --store file://DIR/store, as written by tapedeck record --out DIR
  --json              one JSON object per snippet
  --file FILE         get: write the snippet to FILE (written whole, then renamed into place)
  -h, --help          this help

Examples:
  tapedeck snippets list --out /tmp/rec --livestream local
  tapedeck snippets get local/composite/mp4/20261130T084512.000Z_000000.mp4 --out /tmp/rec > first.mp4
  tapedeck snippets list --store s3://recordings/tapedeck --livestream show-1 --track host-ana \\
      --from 2026-11-30T08:45:00Z --to 2026-11-30T08:46:00Z
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      livestream: { type: 'string' },
      track: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      store: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      file: { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals[0] === 'get') return getSnippet(positionals.slice(1), values);
    if (positionals[0] !== 'list' || positionals.length > 1)
      throw new UsageError(
        `expected "tapedeck snippets list" or "tapedeck snippets get KEY", not "${positionals.join(' ')}"`,
      );
    if (!values.livestream) throw new UsageError('--livestream ID is required');
    const livestreamId = assertId('--livestream', values.livestream);
    if (values.track) parseTrack(values.track);
    const fromMs = values.from === undefined ? undefined : parseInstant(values.from, '--from');
    const toMs = values.to === undefined ? undefined : parseInstant(values.to, '--to');
    if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs)
      throw new UsageError(`--to (${values.to}) must be after --from (${values.from})`);
    const store = storeFrom(values);
    try {
      await store.check().catch((err: Error) => {
        throw new DeliverySetupError(`cannot use the store ${store.describe}: ${err.message}`);
      });
      const rows: Row[] = [];
      const tracks = values.track ? [values.track] : await tracksOf(store, livestreamId);
      for (const track of tracks) {
        for await (const s of listSnippets(store, {
          livestreamId,
          track,
          ...(fromMs !== undefined ? { fromMs } : {}),
          ...(toMs !== undefined ? { toMs } : {}),
        })) {
          // Listing finds candidates by start; the stored end decides for those starting before --from.
          let end: string | null = null;
          if (fromMs !== undefined && s.startMs < fromMs) {
            end = (await store.head(s.key))?.metadata.end ?? null;
            if (end !== null && Date.parse(end) <= fromMs) continue;
          }
          const k = parseSnippetKey(s.key);
          rows.push({
            key: s.key,
            track,
            variant: k.variant,
            seq: k.seq,
            start: new Date(k.startMs).toISOString(),
            end,
            bytes: s.bytes,
          });
        }
      }
      rows.sort((a, b) =>
        a.start < b.start ? -1 : a.start > b.start ? 1 : a.track.localeCompare(b.track),
      );
      if (values.json) for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        for (const r of rows)
          process.stdout.write(
            `${r.start}  ${r.track.padEnd(16)} ${r.variant}  ${String(r.seq).padStart(6, '0')}  ${(r.bytes / 1e6).toFixed(2).padStart(7)} MB  ${r.key}\n`,
          );
        process.stderr.write(`${rows.length} snippets in ${store.describe}\n`);
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};

function storeFrom(values: { store?: string; out?: string }): ObjectStore {
  if (values.store && values.out) throw new UsageError('give --store or --out, not both');
  if (!values.store && !values.out)
    throw new UsageError('say where the snippets are: --store URL or --out DIR');
  try {
    return openStore(values.store ?? defaultStoreUrl(resolve(values.out!)));
  } catch (err) {
    throw new DeliverySetupError(`--store: ${(err as Error).message}`);
  }
}

/** Streams one snippet out, hashing as it goes; a mismatch with the stored checksum fails loudly. */
async function getSnippet(
  args: string[],
  values: { store?: string; out?: string; file?: string },
): Promise<number> {
  if (args.length !== 1) throw new UsageError('give exactly one KEY: tapedeck snippets get KEY');
  const key = args[0]!;
  parseSnippetKey(key);
  const store = storeFrom(values);
  try {
    const info = await store.head(key);
    if (!info) throw new DeliverySetupError(`${key} is not in ${store.describe}`);
    const hash = createHash('sha256');
    const source = await store.get(key);
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const target = values.file ? `${values.file}.part-${process.pid}` : null;
    await pipeline(source, hashing, target ? createWriteStream(target) : process.stdout);
    const sha = hash.digest('hex');
    if (info.sha256 && sha !== info.sha256) {
      if (target) await unlink(target).catch(() => undefined);
      throw new Error(`${key}: read ${sha}, but the store says ${info.sha256}`);
    }
    if (target) await rename(target, values.file!);
    process.stderr.write(`${key}: ${info.bytes} bytes, sha256 ${sha}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
