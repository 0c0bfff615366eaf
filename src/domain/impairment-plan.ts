import type { Impairment } from './quality-rules.ts';

/** An impairment a synthetic host is told to make: `HOST:KIND:FROM-TO` on the demo's command line. */
export interface PlannedImpairment {
  /** 1-based, as the demo numbers its hosts. */
  host: number;
  kind: Impairment;
  fromSec: number;
  toSec: number;
}

export const IMPAIRMENT_KINDS: readonly Impairment[] = [
  'black',
  'frozen',
  'silence',
  'clipping',
  'noise',
];
const VIDEO_KINDS: readonly Impairment[] = ['black', 'frozen'];

export class ImpairmentPlanError extends Error {
  override name = 'ImpairmentPlanError';
}

function medium(kind: Impairment): 'video' | 'audio' {
  return VIDEO_KINDS.includes(kind) ? 'video' : 'audio';
}

/** Parses `HOST:KIND:FROM-TO`, e.g. `1:black:10-20`, against the demo's hosts and length. */
export function parseImpairment(
  text: string,
  hosts: number,
  durationSec: number,
): PlannedImpairment {
  const m = /^(\d+):([a-z]+):(\d+)-(\d+)$/.exec(text.trim());
  const form = `give it as HOST:KIND:FROM-TO, e.g. 1:black:10-20 (host 1, black video from 10 s to 20 s)`;
  if (!m) throw new ImpairmentPlanError(`--impair "${text}" is not understood: ${form}`);
  const host = Number(m[1]);
  const kind = m[2] as Impairment;
  const fromSec = Number(m[3]);
  const toSec = Number(m[4]);
  if (!(host >= 1 && host <= hosts))
    throw new ImpairmentPlanError(`--impair "${text}": host must be 1 to ${hosts}`);
  if (!IMPAIRMENT_KINDS.includes(kind))
    throw new ImpairmentPlanError(
      `--impair "${text}": kind must be one of ${IMPAIRMENT_KINDS.join(', ')}`,
    );
  if (!(toSec > fromSec))
    throw new ImpairmentPlanError(`--impair "${text}": it must end after it starts`);
  if (toSec > durationSec)
    throw new ImpairmentPlanError(
      `--impair "${text}": it ends after the demo does (${durationSec} s); make --duration longer`,
    );
  return { host, kind, fromSec, toSec };
}

/** Refuses two impairments of one medium of one host at once: a host shows one picture, one sound. */
export function checkImpairments(plan: readonly PlannedImpairment[]): void {
  for (const [i, a] of plan.entries())
    for (const b of plan.slice(i + 1))
      if (
        a.host === b.host &&
        medium(a.kind) === medium(b.kind) &&
        a.fromSec < b.toSec &&
        b.fromSec < a.toSec
      )
        throw new ImpairmentPlanError(
          `host ${a.host} cannot have ${a.kind} (${a.fromSec}-${a.toSec} s) and ${b.kind} (${b.fromSec}-${b.toSec} s) at once: both are ${medium(a.kind)}`,
        );
}

export interface ImpairmentStep {
  atSec: number;
  host: number;
  /** Publisher commands, in order: clear, then what is still (or newly) in force. */
  commands: string[];
}

/**
 * The commands that carry a plan out. A publisher's `impair none` clears both media, so at every
 * change a host is told everything that is in force from then on.
 */
export function impairmentSteps(plan: readonly PlannedImpairment[]): ImpairmentStep[] {
  const steps: ImpairmentStep[] = [];
  const hosts = [...new Set(plan.map((p) => p.host))].sort((a, b) => a - b);
  for (const host of hosts) {
    const mine = plan.filter((p) => p.host === host);
    const times = [...new Set(mine.flatMap((p) => [p.fromSec, p.toSec]))].sort((a, b) => a - b);
    for (const atSec of times) {
      const active = mine.filter((p) => p.fromSec <= atSec && atSec < p.toSec);
      steps.push({
        atSec,
        host,
        commands: ['impair none', ...active.map((p) => `impair ${p.kind}`)],
      });
    }
  }
  return steps.sort((a, b) => a.atSec - b.atSec || a.host - b.host);
}
