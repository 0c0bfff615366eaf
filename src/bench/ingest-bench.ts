/**
 * `tapedeck bench ingest`: what terminating WHIP publishes costs. The ingest runs in a child
 * process (src/bench/ingest-node.ts) whose process tree is measured alone; GStreamer publishes
 * to it over 127.0.0.1, and their own CPU is not counted. By default one whip-load.py process
 * encodes once and publishes every session of a round, so that the publishers fit on the same
 * small machine as the ingest; perProcess runs one whip-publisher.py, with its own encoder, per
 * publisher instead.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../domain/whip-token.ts';
import { JsonLinesChild as Child, type Line } from './json-lines-child.ts';
import { OTHER_LOAD_WARNING, otherCpuShare, sampleMachine } from './machine-load.ts';
import { watchProcessTree, type ProcessTreeWatcher } from './process-usage.ts';
import { spread } from './stats.ts';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const INGEST_NODE = join(SRC, 'bench/ingest-node.ts');
const PUBLISHER = join(SRC, 'ingest/publisher/whip-publisher.py');
const LOAD = join(SRC, 'ingest/publisher/whip-load.py');
/** Incompressible: the encoders really produce the asked bitrate (a moving ball makes ~100 kbit/s). */
const PATTERN = 'snow';
const LIVESTREAM = 'bench';

export const TARGET_PUBLISHERS_PER_CORE = 40;
export const TARGET_JOIN_P99_MS = 1000;

export type JoinBasis = 'forwarded-rtp' | 'snippet-file';

export interface IngestRow {
  publishers: number;
  joined: number;
  durationSec: number;
  /** CPU of the whole ingest process tree, % of one core. */
  treeCpuPct: number;
  /** CPU of the recorder workers (with --record), % of one core; null without. */
  recorderCpuPct: number | null;
  /** treeCpuPct minus recorderCpuPct: WebRTC termination and forwarding. */
  ingestCpuPct: number;
  perPublisherPct: number;
  publishersPerCore: number;
  joinMs: { p50: number; p99: number; max: number };
  joinBasis: JoinBasis;
  /** Datagrams that reached the benchmark's own sinks per second; null with --record. */
  packetsPerSec: number | null;
  /** The publishers' processes (the load generator), % of one core. */
  publishersCpuPct: number;
  /** Everything else on the machine in the window, % of one core; null where /proc/stat is not. */
  otherCpuPct: number | null;
  problem?: string;
}

/** "1,4,8" → [1, 4, 8]: whole numbers from 1 to max, no repeats. */
export function parsePublishers(raw: string, max = 64): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    const n = Number(p);
    if (p === '' || !Number.isInteger(n) || n < 1 || n > max)
      throw new Error(`"${p}" is not a whole number from 1 to ${max}`);
    if (out.includes(n)) throw new Error(`${n} is listed twice`);
    out.push(n);
  }
  return out;
}

/** Figures of one round from what was measured. */
export function summarizeRound(m: {
  publishers: number;
  durationSec: number;
  treeCpuShare: number;
  recorderCpuShare: number | null;
  joinMs: number[];
  joinBasis: JoinBasis;
  packets: number | null;
  publishersCpuShare: number;
  otherCpuShare: number;
  problem?: string;
}): IngestRow {
  const treeCpuPct = m.treeCpuShare * 100;
  const recorderCpuPct = m.recorderCpuShare === null ? null : m.recorderCpuShare * 100;
  const ingestCpuPct = Math.max(0, treeCpuPct - (recorderCpuPct ?? 0));
  const perPublisherPct = ingestCpuPct / m.publishers;
  const s = spread(m.joinMs);
  return {
    publishers: m.publishers,
    joined: m.joinMs.length,
    durationSec: m.durationSec,
    treeCpuPct,
    recorderCpuPct,
    ingestCpuPct,
    perPublisherPct,
    publishersPerCore: perPublisherPct > 0 ? 100 / perPublisherPct : Infinity,
    joinMs: { p50: s.p50, p99: s.p99, max: s.max },
    joinBasis: m.joinBasis,
    packetsPerSec: m.packets === null ? null : m.packets / m.durationSec,
    publishersCpuPct: m.publishersCpuShare * 100,
    otherCpuPct: Number.isFinite(m.otherCpuShare) ? m.otherCpuShare * 100 : null,
    ...(m.problem ? { problem: m.problem } : {}),
  };
}

function fmt(value: number | null, digits = 1): string {
  if (value === null || Number.isNaN(value)) return '–';
  if (!Number.isFinite(value)) return '∞';
  return value.toFixed(digits);
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
}

export function formatIngestReport(
  rows: IngestRow[],
  o: { kbps: number; record: boolean; perProcess?: boolean },
): string {
  const header = [
    'publishers',
    'ingest CPU %',
    ...(o.record ? ['recorders CPU %'] : []),
    'per publisher %',
    'publishers/core',
    'join p50 ms',
    'join p99 ms',
    'packets/s',
    'publishers CPU %',
    'other CPU %',
  ];
  const widths = header.map((h) => h.length);
  const lines = rows.map((r) =>
    pad(
      [
        `${r.joined}/${r.publishers}`,
        fmt(r.ingestCpuPct),
        ...(o.record ? [fmt(r.recorderCpuPct)] : []),
        fmt(r.perPublisherPct, 2),
        fmt(r.publishersPerCore, 0),
        fmt(r.joinMs.p50, 0),
        fmt(r.joinMs.p99, 0),
        fmt(r.packetsPerSec, 0),
        fmt(r.publishersCpuPct),
        fmt(r.otherCpuPct),
      ],
      widths,
    ),
  );
  const basis = o.record
    ? "join: from the WHIP POST (createSession called) to the host recording's first media written to disk (includes starting its media worker)"
    : 'join: from the WHIP POST (createSession called) to the first video RTP datagram forwarded to a sink';
  const targets = rows.map((r) => {
    const perCore = o.record
      ? ''
      : `publishers/core ${fmt(r.publishersPerCore, 0)} ${r.publishersPerCore >= TARGET_PUBLISHERS_PER_CORE ? 'ok' : 'MISSED'}, `;
    const join = `join p99 ${fmt(r.joinMs.p99, 0)} ms ${r.joinMs.p99 <= TARGET_JOIN_P99_MS ? 'ok' : 'MISSED'}`;
    return `  ${r.publishers} publisher${r.publishers === 1 ? '' : 's'}: ${perCore}${join}${r.problem ? ` (${r.problem})` : ''}`;
  });
  const busy = rows.filter((r) => (r.otherCpuPct ?? 0) > OTHER_LOAD_WARNING * 100);
  return [
    pad(header, widths),
    ...lines,
    '',
    `CPU: % of one core over the steady-state window, after all joins; "ingest" is the ingest process tree${o.record ? ' minus its recorder workers' : ''}.`,
    o.perProcess
      ? `The publishers' own CPU (one GStreamer process per publisher, each encoding its own ${o.kbps} kbit/s) is NOT counted.`
      : `The publishers' own CPU (one GStreamer process: video encoded once at ${o.kbps} kbit/s, audio once, sent to every publisher's own WebRTC session) is NOT counted.`,
    basis,
    'other: the rest of the machine (not the ingest, the publishers or this command), % of one core.',
    ...busy.map(
      (r) =>
        `WARNING: other work used ${fmt(r.otherCpuPct)} % of a core while ${r.publishers} publishers were measured; those figures are less reliable`,
    ),
    `targets: >= ${TARGET_PUBLISHERS_PER_CORE} publishers per core (ingest only), join p99 <= ${TARGET_JOIN_P99_MS} ms`,
    ...targets,
    '',
  ].join('\n');
}

/**
 * Rejects with the publisher's reason once it prints a "failed" line matching, or exits; never
 * resolves. Whoever races it no longer waits out a timeout for a publish that is already lost.
 */
function failure(publisher: Child, match: (l: Line) => boolean): Promise<never> {
  return new Promise((_, reject) => {
    const check = () => {
      const failed = publisher.lines.find((l) => l.event === 'failed' && match(l));
      if (failed) reject(new Error(String(failed.message ?? 'publisher failed')));
      else if (publisher.exited)
        reject(new Error(`publisher exited: ${publisher.stderrTail.trim().slice(-200)}`));
      else setTimeout(check, 100).unref();
    };
    check();
  });
}

const children = new Set<Child>();
function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}

function start(cmd: string, args: string[]): Child {
  const c = new Child(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true }));
  children.add(c);
  c.proc.once('exit', () => children.delete(c));
  c.proc.on('error', () => undefined);
  return c;
}

export interface IngestBenchOptions {
  publishers: number[];
  kbps: number;
  durationSec: number;
  record: boolean;
  /** One whip-publisher.py process (and x264 encoder) per publisher instead of one whip-load.py. */
  perProcess?: boolean;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
  /** Each row as soon as it is measured: what a caller keeps when a later count fails. */
  onRow?: (row: IngestRow) => void;
}

export async function runIngestBench(o: IngestBenchOptions): Promise<IngestRow[]> {
  const progress = o.onProgress ?? (() => undefined);
  const secret = randomBytes(24).toString('base64url');
  const outDir = o.record ? await mkdtemp(join(tmpdir(), 'tapedeck-bench-ingest-')) : undefined;
  process.on('exit', killAll);
  const node = start(process.execPath, [
    ...process.execArgv,
    INGEST_NODE,
    // One argument: a base64url secret may start with "-", which would read as an option.
    `--secret=${secret}`,
    '--livestream',
    LIVESTREAM,
    ...(outDir ? ['--record', '--out', outDir] : []),
  ]);
  const aborted = new Promise<never>((_, reject) => {
    if (o.signal?.aborted) reject(new Error('aborted'));
    o.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
  aborted.catch(() => undefined);
  const rows: IngestRow[] = [];
  const publishers: Child[] = [];
  try {
    const ready = await Promise.race([node.waitFor((l) => l.event === 'ready', 30_000), aborted]);
    const url = String(ready.url);
    const stats = async () => {
      const from = node.lines.length;
      node.proc.stdin!.write('stats\n');
      const l = await node.waitFor((x) => x.event === 'stats', 10_000, from);
      return { packets: Number(l.packets), workerPids: l.workerPids as number[] };
    };
    for (const n of o.publishers) {
      const from = node.lines.length;
      const hosts = Array.from({ length: n }, (_, i) => `n${n}-h${i + 1}`);
      progress(`${n} publisher${n === 1 ? '' : 's'}: starting at ${o.kbps} kbit/s…`);
      const sessions = hosts.map((hostId) => ({
        hostId,
        url: `${url}/whip/${LIVESTREAM}/${hostId}`,
        token: issueToken(secret, {
          livestreamId: LIVESTREAM,
          hostId,
          expiresAt: Date.now() + 3_600_000,
        }),
      }));
      /** Per host: rejects when its publisher says it failed (or exits) before it joined. */
      let publisherFailed: (index: number) => Promise<never>;
      if (o.perProcess) {
        for (const s of sessions)
          publishers.push(
            start('/usr/bin/python3', [
              PUBLISHER,
              ...['--url', s.url, '--token', s.token, '--name', s.hostId],
              ...['--kbps', String(o.kbps), '--pattern', PATTERN],
            ]),
          );
        publisherFailed = (i) => failure(publishers[i]!, () => true);
      } else {
        const load = start('/usr/bin/python3', [
          LOAD,
          ...['--sessions', '-', '--kbps', String(o.kbps), '--pattern', PATTERN],
        ]);
        load.proc.stdin!.end(JSON.stringify(sessions.map(({ url, token }) => ({ url, token }))));
        publishers.push(load);
        publisherFailed = (i) => failure(load, (l) => l.index === i);
      }
      const joinMs: number[] = [];
      let problem: string | undefined;
      const joins = await Promise.race([
        Promise.allSettled(
          hosts.map((h, i) =>
            Promise.race([
              node.waitFor(
                (l) => l.event === 'joined' && l.hostId === h,
                o.record ? 60_000 : 20_000 + 500 * n,
                from,
              ),
              publisherFailed(i),
            ]),
          ),
        ),
        aborted,
      ]);
      const reasons = new Set<string>();
      for (const j of joins)
        if (j.status === 'fulfilled') joinMs.push(Number(j.value.joinMs));
        else reasons.add((j.reason as Error).message);
      if (joinMs.length < n)
        problem = `${n - joinMs.length} did not join: ${[...reasons].join('; ').slice(0, 300)}`;
      progress(`${n}: ${joinMs.length} joined; measuring ${o.durationSec} s…`);
      const before = await stats();
      // The ingest and its workers have been running since before the window (the joins, earlier
      // counts): only what they use inside it is the steady state.
      const tree = watchProcessTree(node.proc.pid!, { sinceNow: true });
      const publisherTrees = publishers.map((p) =>
        watchProcessTree(p.proc.pid!, { sinceNow: true }),
      );
      const machineStart = sampleMachine();
      const workers: ProcessTreeWatcher[] = o.record
        ? before.workerPids.map((pid) => watchProcessTree(pid, { sinceNow: true }))
        : [];
      await Promise.race([new Promise((r) => setTimeout(r, o.durationSec * 1000)), aborted]);
      const after = await stats();
      const machineEnd = sampleMachine();
      const treeUsage = await tree.stop();
      const publishersCpuSec = (await Promise.all(publisherTrees.map((t) => t.stop()))).reduce(
        (sum, u) => sum + u.cpuSec,
        0,
      );
      const workerUsage = await Promise.all(workers.map((w) => w.stop()));
      const recorderCpuSec = workerUsage.reduce((sum, u) => sum + u.cpuSec, 0);
      const row = summarizeRound({
        publishers: n,
        durationSec: treeUsage.wallSec,
        treeCpuShare: treeUsage.cpuShareOfCore,
        recorderCpuShare: o.record ? recorderCpuSec / treeUsage.wallSec : null,
        joinMs,
        joinBasis: o.record ? 'snippet-file' : 'forwarded-rtp',
        packets: o.record ? null : after.packets - before.packets,
        publishersCpuShare: publishersCpuSec / treeUsage.wallSec,
        otherCpuShare: otherCpuShare(machineStart, machineEnd, treeUsage.cpuSec + publishersCpuSec),
        ...(problem ? { problem } : {}),
      });
      rows.push(row);
      o.onRow?.(row);
      progress(`${n}: stopping publishers…`);
      // Up to 64 sessions say goodbye with a DELETE each, then tear down their peer connections.
      await Promise.all(publishers.splice(0).map((p) => p.stop(o.perProcess ? 5_000 : 15_000)));
      await Promise.race([
        Promise.allSettled(
          hosts.map((h) => node.waitFor((l) => l.event === 'left' && l.hostId === h, 10_000, from)),
        ),
        aborted,
      ]);
    }
  } finally {
    await Promise.all(publishers.map((p) => p.stop(2_000)));
    if (!node.exited) node.proc.stdin!.write('quit\n');
    await node.stop(o.record ? 20_000 : 5_000, false);
    killAll();
    process.off('exit', killAll);
    if (outDir) await rm(outDir, { recursive: true, force: true });
  }
  return rows;
}
