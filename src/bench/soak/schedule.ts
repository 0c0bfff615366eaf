/**
 * The soak's fault plan: which component breaks when, derived from a seed alone, so a run that
 * found something can be repeated with the same faults at the same times.
 */
import { seededRandom } from '../seeded-random.ts';

export const FAULT_KINDS = [
  'media-worker',
  'temporal-worker',
  'temporal-server',
  'store',
  'broker',
  'host-drop',
  'camera',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const FAULT_LABELS: Record<FaultKind, string> = {
  'media-worker': 'kill -9 a media worker (one recording’s GStreamer process)',
  'temporal-worker': 'kill -9 a Temporal worker process (its supervisor restarts it)',
  'temporal-server': 'kill -9 the Temporal server, restart it on the same port and database',
  store: 'kill -9 the S3 server (versitygw), restart it on the same port and folder',
  broker: 'kill -9 the NATS JetStream broker, restart it on the same port and store',
  'host-drop': 'kill -9 a host’s publisher, publish again within the 10 s grace',
  camera: 'turn a host’s camera off, then on again',
};

export interface PlannedFault {
  index: number;
  kind: FaultKind;
  /** Seconds after the hosts started publishing. */
  atSec: number;
  /** How long the component stays down (or the camera off); 0 for kills that restart by themselves. */
  downSec: number;
  /** Which livestream (0-based) the fault is aimed at, where that matters. */
  livestream: number;
  /** Host number, 1-based (host-drop, camera). */
  host: number;
  /** Worker slot (temporal-worker). */
  slot: number;
  /** 0 ≤ pick < 1: which of the media workers running at that moment (sorted by pid). */
  pick: number;
  /** Camera toggles go through the publisher (it stops sending video) or the control API. */
  via: 'publisher' | 'api';
}

export interface ScheduleOptions {
  seed: number;
  minutes: number;
  livestreams: number;
  hosts: number;
  workerSlots: number;
  /** Mean spacing of faults in seconds. */
  everySec: number;
  /** No fault before this (recordings settle), none after total − tailSec (recovery before stop). */
  leadSec: number;
  tailSec: number;
  kinds?: readonly FaultKind[];
}

/** Shortest spacing the plan allows: a fault and its recovery take about this long. */
export const MIN_SPACING_SEC = 10;

/** Where faults may fall: [lead, total − tail], empty for runs too short to hold one. */
export function faultWindow(o: Pick<ScheduleOptions, 'minutes' | 'leadSec' | 'tailSec'>): {
  fromSec: number;
  toSec: number;
} {
  const total = o.minutes * 60;
  return { fromSec: o.leadSec, toSec: Math.max(o.leadSec, total - o.tailSec) };
}

/** At least one fault per minute of the run, more when --fault-every asks for it. */
export function faultCount(o: ScheduleOptions): number {
  const { fromSec, toSec } = faultWindow(o);
  const span = toSec - fromSec;
  if (span <= 0) return 0;
  const wanted = Math.max(Math.ceil(o.minutes), Math.floor(span / o.everySec));
  return Math.max(1, Math.min(wanted, Math.floor(span / MIN_SPACING_SEC)));
}

const DOWN_SEC: Record<FaultKind, [number, number]> = {
  'media-worker': [0, 0],
  'temporal-worker': [0, 0],
  'temporal-server': [2, 5],
  store: [3, 6],
  broker: [3, 6],
  // The ingest keeps a dropped host's place for 10 s; a new publish also needs a second or two.
  'host-drop': [2, 5],
  camera: [5, 15],
};

/**
 * The kinds in blocks, each block every kind once in a seeded order, so any stretch of the run
 * sees them all about equally and never the same kind twice in a row.
 */
function kindSequence(count: number, kinds: readonly FaultKind[], rnd: () => number): FaultKind[] {
  const out: FaultKind[] = [];
  while (out.length < count) {
    const block = [...kinds];
    for (let i = block.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [block[i], block[j]] = [block[j]!, block[i]!];
    }
    if (block.length > 1 && block[0] === out.at(-1)) [block[0], block[1]] = [block[1]!, block[0]!];
    out.push(...block);
  }
  return out.slice(0, count);
}

/**
 * Faults spread evenly over the window: one per slot of equal width, at a seeded point in the
 * first half of its slot so the second half leaves room for its recovery.
 */
export function planFaults(o: ScheduleOptions): PlannedFault[] {
  const kinds = o.kinds?.length ? o.kinds : FAULT_KINDS;
  const rnd = seededRandom(o.seed);
  const count = faultCount(o);
  if (count === 0) return [];
  const { fromSec, toSec } = faultWindow(o);
  const slot = (toSec - fromSec) / count;
  const sequence = kindSequence(count, kinds, rnd);
  const between = (lo: number, hi: number) => lo + rnd() * (hi - lo);
  return sequence.map((kind, index) => {
    const [lo, hi] = DOWN_SEC[kind];
    return {
      index,
      kind,
      atSec: Math.round((fromSec + index * slot + rnd() * slot * 0.5) * 10) / 10,
      downSec: Math.round(between(lo, hi) * 10) / 10,
      livestream: Math.floor(rnd() * o.livestreams),
      host: 1 + Math.floor(rnd() * o.hosts),
      slot: Math.floor(rnd() * o.workerSlots),
      pick: rnd(),
      via: rnd() < 0.5 ? 'publisher' : 'api',
    };
  });
}

/** Faults per kind, every kind listed (0 where none). */
export function countByKind(faults: readonly { kind: FaultKind }[]): Record<FaultKind, number> {
  const out = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of faults) out[f.kind] += 1;
  return out;
}

export function parseKindList(text: string): FaultKind[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) throw new Error('no fault kind given');
  for (const p of parts)
    if (!FAULT_KINDS.includes(p as FaultKind))
      throw new Error(`"${p}" is not a fault kind (${FAULT_KINDS.join(', ')})`);
  return [...new Set(parts)] as FaultKind[];
}
