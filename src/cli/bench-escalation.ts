import { tmpdir } from 'node:os';
import { formatEscalationReport, runEscalationBench } from '../bench/escalation-bench.ts';
import { intOption, parseOptions, UsageError } from './command.ts';

export const escalationHelp = `Usage: tapedeck bench escalation [options]

Escalation turnaround: from a low score on the bus to the review being visible in the moderation
service's queue. Everything is real and on this machine: Temporal's dev server, the escalation
workflow and its activities, a file store, the embedded bus and the built-in moderation service.

For each escalation, seven 15-s snippets of a host track (640x360 H.264 at 5 Mbit/s with AAC, as a
host recording makes them) are stored first; then a low score for the middle one is published
and the clock runs until the review is in the queue. In between: the trigger starts the track's
escalation workflow, which fetches the 75 s around the snippet (30 s before, 30 s after, in whole
snippets), merges them without re-encoding, uploads the clip and creates the review. Escalations
run one after another, each on its own track; the first one warms up and is not counted.

Reading the output:
  turnaround   p50, p99 and the slowest, in seconds (target: at or under 10 s)
  CPU          this process (trigger, worker, service) and the merges it ran, per escalation;
               the Temporal server's own CPU is not counted

Options:
  --escalations N   how many to measure                                   [default: 20]
  --work DIR        where the temporary store and servers live           [default: the OS temp dir]
  --json            also print the figures as one JSON line, the last line of stdout
  -h, --help        this help
`;

export async function runEscalation(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    escalations: { type: 'string' },
    work: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(escalationHelp);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const escalations = intOption('escalations', values.escalations, 20, 1, 1000);
  const result = await runEscalationBench({
    escalations,
    workDir: values.work ?? tmpdir(),
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${formatEscalationReport(result)}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}
