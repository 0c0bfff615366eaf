import { formatSoakReport } from '../bench/soak/report.ts';
import { LEAD_SEC, runSoak, soakPlan, TAIL_SEC, warmupSec } from '../bench/soak/run-soak.ts';
import {
  FAULT_KINDS,
  FAULT_LABELS,
  parseKindList,
  type FaultKind,
} from '../bench/soak/schedule.ts';
import { intOption, numberOption, parseOptions, UsageError } from './command.ts';

export const soakHelp = `Usage: tapedeck bench soak --minutes M [--faults] [options]

Runs livestreams of 4 synthetic hosts (WHIP, 320x180 pictures with a tone) for M minutes against a
tapedeck node with production-style parts, all started by the soak on 127.0.0.1: an S3 store
(versitygw), a NATS JetStream broker, Temporal's dev server, and the node itself in this process
(ingest, control API, two supervised worker processes and their media workers). Scoring is off.

With --faults, a fault injector breaks things at seeded times (--seed repeats a run's faults):
${FAULT_KINDS.map((k) => `  ${k.padEnd(16)}${FAULT_LABELS[k]}`).join('\n')}
At least one fault per minute of the run, about one every --fault-every seconds, spread over the
kinds in turn, none in the first ${LEAD_SEC} s or the last ${TAIL_SEC} s. One fault at a time: a fault is over when
its component is back and every track of the livestream has delivered a snippet that ended after
that; only then may the next one come.

At the end the livestreams stop, delivery settles (spools and outboxes empty) and every track is
checked against what is in the store and on the bus:
  lost          every snippet number of a track and variant from 0 up is in the store, and from
                its first snippet to its last the track has no hole longer than 2 s, except
                inside a gap announced on the bus (tapedeck.recording.gap: a recording lost with
                its worker and started again); an announced snippet missing from the store is lost
  unplayable    every object read back from S3 passes the delivery check (MP4 index, MP3 frames)
  sha256        every object's bytes hash to the sha256 of its tapedeck.snippet.ready event
  duplicates    one object per snippet number, no two objects of a variant covering the same
                seconds, each event once in the JetStream stream
  RSS, fds      resident memory and open descriptors of this process, the worker processes and
                their media workers: the median of the first three samples after a warm-up of
                20 % of the run (20 to 120 s) against the median of the last three, leaving out
                samples taken during a fault and its recovery; fds may grow by 5 at most

Reading the output: progress (faults, recoveries, gaps announced, snippets and memory every 15 s)
goes to stderr; the report to stdout: the faults with the time each was injected, how long the
component took to come back and until every track delivered again; per track the MP4 and MP3
snippets, snippets recovered after a crash, gaps announced and what lay inside them; memory and
descriptors; then issue 8's targets, met or MISSED. Exit code 1 when a target is missed.

Everything the soak starts is stopped at the end, and on Ctrl-C. Needs about the whole of a
2-core machine; run it in a private network namespace (unshare -n) to be sure nothing leaves
loopback. Snippets of these synthetic pictures are about 1 MB each: a 30-minute run of one
livestream (600 snippets) keeps some 600 MB in the temporary folder until it ends.

Options:
  --minutes M          how long the hosts publish (0.5 to 1440)               [required]
  --faults             inject faults
  --livestreams K      livestreams at once, 4 hosts each                      [default: 1]
  --seed N             seed of the fault plan                                 [default: random]
  --fault-every SEC    mean spacing of faults, 10 to 600; never fewer than one a minute
                                                                              [default: 40]
  --kinds LIST         only these fault kinds, comma-separated                [default: all]
  --work DIR           where the servers' data and the node live              [default: temp dir]
  --keep               keep that folder (its path is printed)
  --plan               print the fault plan for these options and exit
  --verbose            the node's log on stderr too
  --json               also print the result as one JSON line, the last line of stdout:
                       {"ok","seed","minutes","livestreams","faults":[{"kind","target","atSec",
                       "downSec","backAfterSec","recoveredAfterSec","status"}],"faultsByKind",
                       "check":{"objects","events","gaps","lostOutsideGaps","inGaps","unplayable",
                       "shaMismatches","unannounced","duplicateObjects","duplicateEvents","tracks",
                       "findings"},"growth":{"rss","fds"},"targets":[{"id","label","value","limit",
                       "met"}]}
  -h, --help           this help

Examples:
  tapedeck bench soak --minutes 30 --faults
  tapedeck bench soak --minutes 2 --faults --fault-every 15 --seed 7 --json
  tapedeck bench soak --minutes 10 --livestreams 2
  tapedeck bench soak --minutes 30 --faults --seed 7 --plan
`;

export async function runSoakCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    minutes: { type: 'string' },
    faults: { type: 'boolean' },
    livestreams: { type: 'string' },
    seed: { type: 'string' },
    'fault-every': { type: 'string' },
    kinds: { type: 'string' },
    work: { type: 'string' },
    keep: { type: 'boolean' },
    plan: { type: 'boolean' },
    verbose: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(soakHelp);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (values.minutes === undefined)
    throw new UsageError('--minutes is required, e.g. --minutes 30');
  const minutes = numberOption('minutes', values.minutes, 0, 0.5, 1440);
  const livestreams = intOption('livestreams', values.livestreams, 1, 1, 8);
  const seed = intOption(
    'seed',
    values.seed,
    Math.floor(Math.random() * 1_000_000),
    0,
    2 ** 31 - 1,
  );
  const everySec = numberOption('fault-every', values['fault-every'], 40, 10, 600);
  let kinds: FaultKind[] | undefined;
  if (values.kinds !== undefined) {
    try {
      kinds = parseKindList(values.kinds);
    } catch (err) {
      throw new UsageError(`--kinds: ${(err as Error).message}`);
    }
  }
  const faults = Boolean(values.faults);
  if (values.plan) {
    const plan = soakPlan({ minutes, livestreams, seed, everySec, ...(kinds ? { kinds } : {}) });
    process.stdout.write(
      `fault plan, seed ${seed}, ${minutes} min:\n` +
        plan
          .map(
            (f) =>
              `  ${String(f.index + 1).padStart(3)}  ${f.atSec.toFixed(1).padStart(7)} s  ${f.kind.padEnd(16)}` +
              `${f.downSec ? ` down ${f.downSec.toFixed(1)} s` : ''}`,
          )
          .join('\n') +
        '\n',
    );
    return 0;
  }

  const abort = new AbortController();
  const onSignal = () => {
    process.stderr.write(
      '\nstopping: no more faults; ending the livestreams and checking what there is…\n',
    );
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(
    `bench soak: ${livestreams} livestream${livestreams === 1 ? '' : 's'} × 4 hosts for ${minutes} min` +
      `${faults ? `, faults (seed ${seed})` : ''}; memory baseline after ${warmupSec(minutes).toFixed(0)} s`,
  );
  let result;
  try {
    result = await runSoak({
      minutes,
      livestreams,
      faults,
      seed,
      everySec,
      ...(kinds ? { kinds } : {}),
      ...(values.work ? { workDir: values.work } : {}),
      keep: Boolean(values.keep),
      signal: abort.signal,
      say,
      ...(values.verbose ? { nodeLog: (l: string) => say(`node: ${l}`) } : {}),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.stdout.write(formatSoakReport(result));
  if (values.json) {
    // Findings can run to thousands in a broken run; the first 200 say what went wrong.
    const check = { ...result.check, findings: result.check.findings.slice(0, 200) };
    process.stdout.write(`${JSON.stringify({ ...result, check })}\n`);
  }
  if (abort.signal.aborted) return 130;
  return result.ok ? 0 : 1;
}
