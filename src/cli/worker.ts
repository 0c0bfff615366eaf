import { join, resolve } from 'node:path';
import { assertId } from '../domain/ids.ts';
import { RemoteIngestPort } from '../ingest/node-api/client.ts';
import { connectWorker, temporalConfigFromEnv } from '../orchestration/temporal/connection.ts';
import { startNodeWorker } from '../orchestration/worker.ts';
import {
  defaultStoreUrl,
  parseDeliveryConfig,
  startDelivery,
} from '../recorder/delivery-runtime.ts';
import { intOption, parseOptions, UsageError, type Command } from './command.ts';

export const workerCommand: Command = {
  name: 'worker',
  help: `Usage: tapedeck worker --data DIR [--node-id ID] [--slot N]

Runs the media side of one node for Temporal: the node's media task queue (recordings, in media
worker processes, on this node's ingest and spool) and this process's own queue (the leases and
stops of the recordings it runs). Workflow code runs in the node process; --control adds it here.
\`tapedeck up\` starts it and starts it again if it dies; run it by hand only to add control-queue
capacity or to debug.

Environment (set by \`tapedeck up\`):
  TAPEDECK_TEMPORAL_ADDRESS, TAPEDECK_TEMPORAL_NAMESPACE, TAPEDECK_TEMPORAL_TLS(_CERT|_KEY),
  TAPEDECK_TEMPORAL_API_KEY          where Temporal is
  TAPEDECK_NODE_API, TAPEDECK_NODE_SECRET   the node's ingest API
  TAPEDECK_STORE, TAPEDECK_BUS       store and bus URLs (default: file store and embedded bus in DIR)

Options:
  --data DIR        the node's data folder (spool, outbox)                     [required]
  --node-id ID      which node's media queue to serve                  [default: node1]
  --slot N          which of the node's workers this is: its spool is DIR/worker-N [default: 0]
  --control         also run workflow code (the shared control queue; \`tapedeck up\` runs it
                    in the node process)
  -h, --help        this help
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      data: { type: 'string' },
      'node-id': { type: 'string' },
      slot: { type: 'string' },
      control: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.data) throw new UsageError('--data DIR is required');
    const nodeId = assertId('node id', values['node-id'] ?? 'node1');
    const temporal = temporalConfigFromEnv();
    if (!temporal) throw new UsageError('TAPEDECK_TEMPORAL_ADDRESS is not set');
    const nodeApi = process.env.TAPEDECK_NODE_API;
    const nodeSecret = process.env.TAPEDECK_NODE_SECRET;
    if (!nodeApi || !nodeSecret)
      throw new UsageError('TAPEDECK_NODE_API and TAPEDECK_NODE_SECRET are not set');
    const log = (line: string) =>
      process.stderr.write(
        `${new Date().toISOString().slice(11, 23)} worker ${process.pid}: ${line}\n`,
      );

    const slot = intOption('slot', values.slot, 0, 0, 63);
    const data = resolve(values.data);
    // Each worker of a node has its own spool and outbox; store and embedded bus are the node's.
    const config = {
      dataDir: join(data, `worker-${slot}`),
      storeUrl: process.env.TAPEDECK_STORE ?? defaultStoreUrl(data),
      busUrl: process.env.TAPEDECK_BUS,
      busDataDir: data,
    };
    const delivery = await startDelivery(config, await parseDeliveryConfig(config));
    delivery.deliverer.on('warning', (w) => log(w));
    const connection = await connectWorker(temporal);
    const nodeClient = new RemoteIngestPort(nodeApi, nodeSecret);
    const worker = await startNodeWorker({
      connection,
      namespace: temporal.namespace,
      nodeId,
      slot,
      control: values.control ?? false,
      ingest: nodeClient,
      ...(process.env.TAPEDECK_WORKFLOW_BUNDLE
        ? { workflowBundlePath: process.env.TAPEDECK_WORKFLOW_BUNDLE }
        : {}),
      delivery,
      log,
    });
    log(
      `running (node ${nodeId}, pid ${process.pid}, ready ${process.uptime().toFixed(1)} s after start)`,
    );
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      log('stopping: finishing the last snippets…');
      void worker.shutdown();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // The node that started this worker is gone: finish and exit rather than record for nobody.
    const parent = process.ppid;
    const orphanCheck = setInterval(() => {
      if (process.ppid !== parent) stop();
    }, 1_000);
    // The node serves the counters at /metrics; a missed report is made up by the next one.
    const report = setInterval(() => {
      const m = worker.metrics?.();
      if (m) nodeClient.reportMetrics(slot, m).catch(() => undefined);
    }, 2_000);
    try {
      await worker.done;
    } finally {
      clearInterval(orphanCheck);
      clearInterval(report);
      await worker.shutdown();
      await delivery.deliverer.drain(30_000);
      await delivery.outbox.drain(10_000).catch(() => undefined);
      await delivery.close();
      await connection.close();
    }
    return 0;
  },
};
