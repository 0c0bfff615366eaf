import { FAULT_KINDS, type FaultKind } from './schedule.ts';
import {
  FD_SLACK,
  fdsMet,
  growthJudgeable,
  RSS_GROWTH_LIMIT_PCT,
  rssMet,
  type GrowthFigures,
} from './growth.ts';
import type { TrackCheckResult } from './track-check.ts';

export interface FaultRecord {
  index: number;
  kind: FaultKind;
  /** What exactly was hit, e.g. "worker slot 1 (pid 4242)". */
  target: string;
  plannedAtSec: number;
  /** When it was injected; null when the run ended before its turn. */
  atSec: number | null;
  downSec: number;
  /** From the fault until the component answered again (or the host published again). */
  backAfterSec: number | null;
  /** From the fault until every track of the livestream delivered a snippet again. */
  recoveredAfterSec: number | null;
  status: 'recovered' | 'not-recovered' | 'skipped';
  note?: string;
}

export interface SoakTarget {
  id: string;
  label: string;
  value: string;
  limit: string;
  /** null: not judged in this run (too short to have a baseline and an end). */
  met: boolean | null;
}

export interface SoakSetup {
  seed: number;
  minutes: number;
  livestreams: number;
  hosts: number;
  faultsEnabled: boolean;
  store: string;
  bus: string;
  temporal: string;
}

export interface SoakResult extends SoakSetup {
  ok: boolean;
  scoring: false;
  node: 'in-process';
  startedAt: string;
  publishedSec: number;
  faults: FaultRecord[];
  /** Sessions the ingest ended without a fault (an overloaded machine), published again. */
  hostReconnects: { atSec: number; livestreamId: string; hostId: string }[];
  faultsByKind: Record<FaultKind, number>;
  check: TrackCheckResult;
  growth: GrowthFigures;
  targets: SoakTarget[];
}

const n1 = (v: number) => v.toFixed(1);
const signed = (v: number) => `${v >= 0 ? '+' : ''}${Math.round(v)}`;
const listed = (growth: Record<string, number>) =>
  Object.entries(growth)
    .map(([what, n]) => `${what} ${signed(n)}`)
    .join(', ');

export function soakTargets(
  setup: Pick<SoakSetup, 'minutes' | 'faultsEnabled'>,
  faults: readonly FaultRecord[],
  check: TrackCheckResult,
  growth: GrowthFigures,
): SoakTarget[] {
  const judged = growthJudgeable(growth);
  const injected = faults.filter((f) => f.atSec !== null);
  const unrecovered = injected.filter((f) => f.status !== 'recovered');
  const duplicates = check.duplicateObjects + check.duplicateEvents;
  const targets: SoakTarget[] = [
    {
      id: 'lost',
      label: 'snippets lost outside announced gaps',
      value: String(check.lostOutsideGaps),
      limit: '0',
      met: check.lostOutsideGaps === 0,
    },
    {
      id: 'unplayable',
      label: 'unplayable objects',
      value: String(check.unplayable),
      limit: '0',
      met: check.unplayable === 0,
    },
    {
      id: 'duplicates',
      label: 'duplicate objects or events',
      value: `${duplicates} (${check.duplicateObjects} objects, ${check.duplicateEvents} events)`,
      limit: '0',
      met: duplicates === 0,
    },
    {
      id: 'sha256',
      label: 'objects whose sha256 differs from their event, or with no event',
      value: String(check.shaMismatches + check.unannounced),
      limit: '0',
      met: check.shaMismatches + check.unannounced === 0,
    },
    {
      id: 'rss',
      label: 'RSS growth of the node’s processes',
      value: judged
        ? `${growth.rss.growthPct >= 0 ? '+' : ''}${n1(growth.rss.growthPct)} %`
        : 'n/a',
      limit: `< ${RSS_GROWTH_LIMIT_PCT} %`,
      met: judged ? rssMet(growth) : null,
    },
    {
      id: 'fds',
      label: 'growth in open descriptors',
      value: judged
        ? `${signed(growth.fds.growth)} (${listed(growth.fds.parts)}; ${listed(growth.fds.kinds)})`
        : 'n/a',
      limit: `none (≤ +${FD_SLACK})`,
      met: judged ? fdsMet(growth) : null,
    },
  ];
  if (setup.faultsEnabled) {
    targets.push(
      {
        id: 'fault-rate',
        label: 'faults injected, at least one per minute',
        value: String(injected.length),
        limit: `≥ ${Math.ceil(setup.minutes)}`,
        met: injected.length >= Math.ceil(setup.minutes),
      },
      {
        id: 'recovery',
        label: 'faults recovered from (every track delivering again)',
        value: `${injected.length - unrecovered.length}/${injected.length}`,
        limit: 'all',
        met: unrecovered.length === 0,
      },
    );
  }
  return targets;
}

/** A run passes when no judged target is missed and there was something to judge. */
export function soakOk(targets: readonly SoakTarget[], check: TrackCheckResult): boolean {
  return check.objects > 0 && targets.every((t) => t.met !== false);
}

function table(rows: string[][], right: Set<number>): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map(
      (r) =>
        '  ' +
        r
          .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

const opt = (v: number | null) => (v === null ? '-' : n1(v));

export function formatSoakReport(r: SoakResult, maxFindings = 20): string {
  const out: string[] = [];
  out.push(
    `tapedeck bench soak: ${r.livestreams} livestream${r.livestreams === 1 ? '' : 's'} × ${r.hosts} hosts, ` +
      `${r.minutes} min, faults ${r.faultsEnabled ? `on (seed ${r.seed})` : 'off'}, scoring off, node in this process`,
    `  store ${r.store}; bus ${r.bus}; Temporal ${r.temporal}`,
    '',
  );
  if (r.faultsEnabled) {
    const injected = r.faults.filter((f) => f.atSec !== null).length;
    const kinds = FAULT_KINDS.filter((k) => r.faultsByKind[k] > 0)
      .map((k) => `${k} ${r.faultsByKind[k]}`)
      .join(', ');
    out.push(`faults: ${injected} injected (${kinds || 'none'})`);
    if (r.faults.length) {
      const rows = [
        ['#', 'at s', 'kind', 'target', 'down s', 'back s', 'recovered s', 'status'],
        ...r.faults.map((f) => [
          String(f.index + 1),
          f.atSec === null ? `(${n1(f.plannedAtSec)})` : n1(f.atSec),
          f.kind,
          f.target,
          f.downSec ? n1(f.downSec) : '-',
          opt(f.backAfterSec),
          opt(f.recoveredAfterSec),
          f.status + (f.note ? ` (${f.note})` : ''),
        ]),
      ];
      out.push(table(rows, new Set([0, 1, 4, 5, 6])));
    }
    out.push(
      '  back: the component answered again; recovered: every track of the livestream delivered a',
      '  snippet that ended after that.',
      '',
    );
  }
  if (r.hostReconnects.length)
    out.push(
      `hosts that lost their session without a fault and published again: ${r.hostReconnects
        .map((h) => `${h.livestreamId}/${h.hostId} at ${n1(h.atSec)} s`)
        .join(', ')}`,
      '',
    );
  const c = r.check;
  out.push(
    `tracks: ${c.objects} objects in the store, ${c.events} snippet events on the bus, ${c.gaps} gaps announced`,
  );
  if (c.tracks.length) {
    const rows = [
      [
        'track',
        'mp4',
        'mp3',
        'recovered',
        'gaps',
        'gap s',
        'missing in gaps',
        'host away',
        'span s',
      ],
      ...c.tracks.map((t) => [
        `${t.livestreamId}/${t.track}`,
        String(t.mp4),
        String(t.mp3),
        String(t.recovered),
        String(t.gaps),
        n1(t.gapMs / 1000),
        String(t.missingInGaps + t.holesInGaps),
        String(t.holesWhileAway),
        n1(t.spanMs / 1000),
      ]),
    ];
    out.push(table(rows, new Set([1, 2, 3, 4, 5, 6, 7, 8])));
  }
  const g = r.growth;
  out.push(
    '',
    growthJudgeable(g)
      ? `usage (quiet samples ${n1(g.baselineAtSec ?? 0)} s → ${n1(g.endAtSec ?? 0)} s): RSS ${n1(g.rss.baselineMiB)} → ${n1(g.rss.endMiB)} MiB ` +
          `(${n1(g.rss.growthPct)} %; this process alone ${n1(g.rss.nodeGrowthPct)} %), ` +
          `open descriptors ${Math.round(g.fds.baseline)} → ${Math.round(g.fds.end)}`
      : `usage: too few quiet samples after the warm-up to judge growth (${g.samples})`,
    '',
    'targets (issue 8):',
  );
  out.push(
    table(
      r.targets.map((t) => [
        t.label,
        t.value,
        t.limit,
        t.met === null ? 'not judged' : t.met ? 'met' : 'MISSED',
      ]),
      new Set(),
    ),
  );
  if (c.findings.length) {
    out.push(
      '',
      `findings (${c.findings.length}${c.findings.length > maxFindings ? `, first ${maxFindings}` : ''}):`,
    );
    for (const f of c.findings.slice(0, maxFindings)) out.push(`  ${f.kind}: ${f.what}`);
  }
  out.push('', r.ok ? 'result: every check passed' : 'result: FAILED');
  return out.join('\n') + '\n';
}
