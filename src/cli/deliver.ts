import { resolve } from 'node:path';
import { drainDelivery, parseDeliveryConfig, startDelivery } from '../recorder/delivery-runtime.ts';
import { numberOption, parseOptions, UsageError, type Command } from './command.ts';

export const deliverCommand: Command = {
  name: 'deliver',
  help: `Usage: tapedeck deliver --out DIR [--store URL] [--bus URL] [--timeout S]

A recording that was killed, or whose store or bus was down when it ended, leaves snippets in
DIR/spool and events in DIR/outbox. This delivers them exactly as a new recording would on
start-up, without recording anything: whole snippets as they are, snippets cut by a crash trimmed
and marked recovered, anything unusable moved to DIR/quarantine with a reason. Nothing is stored
or announced twice.

Options:
  --out DIR       the data folder of the earlier run                           [required]
  --store URL     file://DIR or s3://BUCKET/PREFIX                 [default: file://OUT/store]
  --bus URL       embedded, nats://HOST:PORT or pubsub://PROJECT/TOPIC       [default: embedded]
  --timeout S     give up after S seconds, leaving the rest for next time      [default: 300]
  --json          print a summary as one JSON line
  -h, --help      this help

Exit codes: 0 when nothing is left, 1 when something is still waiting (store or bus down).

Example:
  tapedeck deliver --out /var/lib/tapedeck --store s3://recordings/tapedeck --bus nats://nats:4222
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      out: { type: 'string' },
      store: { type: 'string' },
      bus: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.out)
      throw new UsageError('--out DIR is required: the data folder of the earlier run');
    const timeoutSec = numberOption('timeout', values.timeout, 300, 0, 86_400);
    const config = { dataDir: resolve(values.out), storeUrl: values.store, busUrl: values.bus };
    const runtime = await startDelivery(config, await parseDeliveryConfig(config));
    const delivered: string[] = [];
    const quarantined: { path: string; reason: string }[] = [];
    runtime.deliverer.on('delivered', (d) => {
      delivered.push(d.key);
      process.stderr.write(
        `delivered ${d.key}${d.recovered ? ' (recovered after a crash)' : ''}\n`,
      );
    });
    runtime.deliverer.on('quarantined', (q) => {
      quarantined.push(q);
      process.stderr.write(`set aside ${q.path}: ${q.reason}\n`);
    });
    runtime.deliverer.on('warning', (m) => process.stderr.write(`warning: ${m}\n`));
    runtime.outbox.on('warning', (w) => process.stderr.write(`warning: ${w.message}\n`));
    let pending;
    try {
      pending = await drainDelivery(runtime, timeoutSec * 1000);
    } finally {
      await runtime.close();
    }
    const { snippetsPending, eventsPending } = pending;
    const summary = { delivered, quarantined, snippetsPending, eventsPending };
    if (values.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else
      process.stdout.write(
        `${delivered.length} snippets delivered, ${quarantined.length} set aside; ` +
          `still waiting: ${snippetsPending} snippets, ${eventsPending} events\n`,
      );
    return snippetsPending || eventsPending ? 1 : 0;
  },
};
