import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { openBus } from '../delivery/bus/open.ts';
import type { MessageBus } from '../delivery/bus/port.ts';
import type { CloudEvent } from '../domain/cloudevent.ts';
import { SNIPPET_READY, snippetReadyProblems, type SnippetReady } from '../domain/snippet-event.ts';
import { assertId } from '../domain/ids.ts';
import { DeliverySetupError } from '../recorder/delivery-runtime.ts';
import { intOption, numberOption, parseOptions, UsageError, type Command } from './command.ts';

function describeEvent(e: CloudEvent): string {
  if (e.type === SNIPPET_READY) {
    const d = e.data as SnippetReady;
    return `${d.end}  ${e.type}  ${d.key}  ${(d.durationMs / 1000).toFixed(3)} s  ${(d.bytes / 1e6).toFixed(2)} MB${d.recovered ? '  recovered' : ''}  id ${e.id}`;
  }
  return `${e.time}  ${e.type}  ${e.subject ?? ''}  id ${e.id}`;
}

export const eventsCommand: Command = {
  name: 'events',
  help: `Usage: tapedeck events tail [options]

Subscribes to the bus and prints each event as it arrives: snippet events show the key, length,
size and id. Events are checked against their schema; one that does not match is reported, not
printed as if it were fine. Each event id is printed once even if the bus delivers it twice.

Options:
  --bus URL           embedded, nats://HOST:PORT or pubsub://PROJECT/TOPIC       [default: embedded]
  --out DIR           the data folder of tapedeck record --out DIR (holds the embedded bus)
                                                                      [default: current folder]
  --from-start        print every retained event first, not only new ones
  --type PREFIX       only events whose type starts with PREFIX, e.g. tapedeck.snippet
  --name NAME         durable subscription name: a tail that comes back with the same name
                      resumes where it stopped   [default: a name of this run's, removed at exit]
  --count N           exit after N events
  --timeout S         exit after S seconds (exit code 3 if --count was not reached)
  --json              print each event as one line of JSON (CloudEvents structured mode)
  -h, --help          this help

Examples:
  tapedeck events tail --out /tmp/rec --from-start
  tapedeck events tail --bus nats://127.0.0.1:4222 --type tapedeck.snippet --json
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      bus: { type: 'string' },
      out: { type: 'string' },
      'from-start': { type: 'boolean' },
      type: { type: 'string' },
      name: { type: 'string' },
      count: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals[0] !== 'tail' || positionals.length > 1)
      throw new UsageError(`expected "tapedeck events tail", not "${positionals.join(' ')}"`);
    const count =
      values.count === undefined ? Infinity : intOption('count', values.count, 1, 1, 1e9);
    const timeoutSec =
      values.timeout === undefined
        ? Infinity
        : numberOption('timeout', values.timeout, 0, 0.1, 1e7);
    const name = assertId('--name', values.name ?? `tail-${randomBytes(4).toString('hex')}`);
    let bus: MessageBus;
    try {
      bus = await openBus(values.bus ?? 'embedded', { dataDir: resolve(values.out ?? '.') });
      await bus.check();
    } catch (err) {
      throw new DeliverySetupError(
        `cannot use the bus ${values.bus ?? 'embedded'}: ${(err as Error).message}`,
      );
    }
    const seen = new Set<string>();
    let printed = 0;
    let finish: (code: number) => void = () => undefined;
    const done = new Promise<number>((r) => (finish = r));
    const sub = await bus.subscribe(
      {
        name,
        startAt: values['from-start'] ? 'earliest' : 'new',
        // Without --name the subscription is this run's alone; it is removed when the tail ends.
        transient: values.name === undefined,
        ...(values.type ? { typePrefix: values.type } : {}),
      },
      async (d) => {
        const e = d.event;
        if (!seen.has(e.id)) {
          seen.add(e.id);
          const problems = e.type === SNIPPET_READY ? snippetReadyProblems(e) : [];
          if (problems.length > 0)
            process.stderr.write(
              `event ${e.id} does not match its schema: ${problems.join('; ')}\n`,
            );
          else if (printed < count) {
            process.stdout.write((values.json ? JSON.stringify(e) : describeEvent(e)) + '\n');
            printed++;
          }
        }
        await d.ack();
        if (printed >= count) finish(0);
      },
    );
    const timer = Number.isFinite(timeoutSec)
      ? setTimeout(() => finish(Number.isFinite(count) ? 3 : 0), timeoutSec * 1000)
      : undefined;
    const onSignal = () => finish(0);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const code = await done;
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await sub.close();
    await bus.close();
    if (code === 3) process.stderr.write(`timed out after ${printed} of ${count} events\n`);
    return code;
  },
};
