import { readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker, type NativeConnection } from '@temporalio/worker';
import {
  emptyWorkerMetrics,
  observeLatency,
  type WorkerMetrics,
} from '../domain/worker-metrics.ts';
import { CONTROL_TASK_QUEUE, nodeTaskQueue, workerTaskQueue } from '../domain/recording-plan.ts';
import type { IngestPort } from '../ingest/ingest-port.ts';
import type { DeliveryRuntime } from '../recorder/delivery-runtime.ts';
import { MediaWorkerPool, spareMediaWorkers } from '../media/media-worker-pool.ts';
import { createNodeActivities } from './activities/node-activities.ts';
import { ipcWorkerReporter, reportingIngest } from './worker-ipc.ts';

const WORKFLOWS = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

export interface NodeWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  nodeId: string;
  /** Which of the node's worker processes this is. */
  slot: number;
  ingest: IngestPort;
  delivery: DeliveryRuntime;
  /**
   * Where the bundled workflow code is kept: made by the first worker of a node run, reused by
   * a restarted one, which then takes its recordings back seconds sooner.
   */
  workflowBundlePath?: string;
  /** Also run workflow code (the control queue); `tapedeck up` runs it in the node process. */
  control?: boolean;
  log?: (line: string) => void;
}

export interface NodeWorker {
  /** Resolves when both workers stopped. */
  readonly done: Promise<void>;
  shutdown(): Promise<void>;
  /** This process's counters (media workers only). */
  metrics?: () => WorkerMetrics;
}

async function workflowCode(cachePath: string | undefined): Promise<string> {
  if (cachePath) {
    const cached = await readFile(cachePath, 'utf8').catch(() => null);
    if (cached) return cached;
  }
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: quietLogger });
  if (cachePath) {
    await writeFile(`${cachePath}.tmp`, code);
    await rename(`${cachePath}.tmp`, cachePath);
  }
  return code;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => process.stderr.write(`workflow bundle: ${m}\n`),
  error: (m: string) => process.stderr.write(`workflow bundle: ${m}\n`),
};

function controlWorker(o: {
  connection: NativeConnection;
  namespace: string;
  workflowBundlePath?: string;
}): Promise<Worker> {
  return workflowCode(o.workflowBundlePath).then((code) =>
    Worker.create({
      connection: o.connection,
      namespace: o.namespace,
      taskQueue: CONTROL_TASK_QUEUE,
      // A workflow cached in a worker that died moves to another after 1 s, not the default 10.
      stickyQueueScheduleToStartTimeout: '1 second',
      workflowBundle: { code },
    }),
  );
}

/**
 * Workflow code only, on the shared control queue. A node runs it in its own process, apart from
 * the media workers: a media worker that dies then takes no workflow's cached state with it, and
 * its recordings are taken over without a replay.
 */
export async function startControlWorker(o: {
  connection: NativeConnection;
  namespace: string;
  workflowBundlePath?: string;
}): Promise<NodeWorker> {
  const worker = await controlWorker(o);
  const done = worker.run();
  return {
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch(() => undefined);
    },
  };
}

/**
 * A node's Temporal workers: its own media queue (recordings on this node's ingest and spool)
 * and, unless told otherwise, the shared control queue that runs workflow code.
 */
export async function startNodeWorker(o: NodeWorkerOptions): Promise<NodeWorker> {
  const pool = new MediaWorkerPool(spareMediaWorkers());
  const counters = emptyWorkerMetrics(process.pid);
  o.delivery.deliverer.on('delivered', (d) => {
    counters.snippetsDelivered += 1;
    if (d.closedAtMs > 0) observeLatency(counters, (d.storedAtMs - d.closedAtMs) / 1000);
  });
  o.delivery.deliverer.on('quarantined', () => (counters.deliveryFailures += 1));
  // Under `tapedeck up` the node hears of every lease and RTP copy, and ends them itself when this
  // process dies.
  const reporter = ipcWorkerReporter();
  const activities = createNodeActivities({
    pool,
    onGap: () => (counters.recordingGaps += 1),
    ingest: reporter ? reportingIngest(o.ingest, reporter) : o.ingest,
    deliverer: o.delivery.deliverer,
    outbox: o.delivery.outbox,
    workerQueue: workerTaskQueue(o.nodeId, o.slot),
    ...(o.log ? { log: o.log } : {}),
    ...(reporter ? { leases: reporter } : {}),
  });
  const media = await Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: nodeTaskQueue(o.nodeId),
    activities,
    // Recordings are long and mostly wait; the media itself is in child processes.
    maxConcurrentActivityTaskExecutions: 200,
    shutdownGraceTime: '20 seconds',
  });
  // Its own queue: the leases and stops of the recordings this process runs.
  const own = await Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: workerTaskQueue(o.nodeId, o.slot),
    activities,
    maxConcurrentActivityTaskExecutions: 400,
    // A lease heartbeat reaches the server every 8 s: its 20-s timeout rides out a 12-s stall. A
    // process that dies is seen sooner by its node, which fails its leases (worker-report.ts).
    // Every 3 s, ten leases cost the Temporal server and workers about 1.3 points of a core more.
    maxHeartbeatThrottleInterval: '8 seconds',
    defaultHeartbeatThrottleInterval: '8 seconds',
    shutdownGraceTime: '20 seconds',
  });
  const workers = [media, own];
  if (o.control ?? false) workers.push(await controlWorker(o));
  const done = Promise.all(workers.map((w) => w.run())).then(() => undefined);
  let shut: Promise<void> | null = null;
  return {
    done,
    metrics: () => ({ ...counters, activeRecordings: activities.running().length }),
    shutdown() {
      shut ??= (async () => {
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await done.catch(() => undefined);
        await activities.close();
        await pool.close();
        reporter?.close();
      })();
      return shut;
    },
  };
}
