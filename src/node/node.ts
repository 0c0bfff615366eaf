import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import {
  ConflictError,
  NotFoundError,
  UnavailableError,
  startControlApi,
  type ControlApi,
  type LivestreamService,
} from '../api/control-api.ts';
import type { ControlEvent, CreateLivestream } from '../domain/control-requests.ts';
import {
  defaultProfile,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
} from '../domain/profile.ts';
import { largestTile } from '../domain/layout.ts';
import { CAMERA } from '../media/pipeline/inputs.ts';
import { workflowIds } from '../domain/recording-plan.ts';
import { issueToken } from '../domain/whip-token.ts';
import { openBus } from '../delivery/bus/open.ts';
import type { MessageBus } from '../delivery/bus/port.ts';
import { Outbox } from '../delivery/outbox.ts';
import { openStore } from '../delivery/store/open.ts';
import type { ObjectStore } from '../delivery/store/port.ts';
import { LocalIngestPort } from '../ingest/ingest-port.ts';
import { LiveIngest } from '../ingest/live-ingest.ts';
import { startNodeApi, type NodeApiServer } from '../ingest/node-api/server.ts';
import { startWhipServer, type WhipServer } from '../ingest/whip/server.ts';
import type { Profiles } from '../orchestration/contracts.ts';
import { relayHostEvents } from '../orchestration/host-event-relay.ts';
import { LivestreamClient, NoAnswerError } from '../orchestration/livestream-client.ts';
import {
  connectClient,
  connectWorker,
  temporalConfigToEnv,
  type TemporalConfig,
} from '../orchestration/temporal/connection.ts';
import { startDevServer, type DevServer } from '../orchestration/temporal/dev-server.ts';
import { startControlWorker } from '../orchestration/worker.ts';
import { defaultStoreUrl } from '../recorder/delivery-runtime.ts';
import { announceHostEvents } from '../recorder/host-events.ts';
import { Metrics, workerMetricsText } from './metrics.ts';
import { HostTiles } from './host-tiles.ts';
import { SharedDecoders } from './shared-decoders.ts';
import { NodeMetricsBook } from '../domain/worker-metrics.ts';
import { persistentSecret } from './secrets.ts';
import { REVIEWS_FOLDER } from '../domain/escalation.ts';
import { WorkerSupervisor } from './worker-supervisor.ts';
import { endOrphaned } from './orphaned.ts';
import {
  startModeration,
  type ModerationRuntime,
  type ModerationServiceConfig,
} from '../moderation/moderation-runtime.ts';

export interface NodeConfig {
  dataDir: string;
  nodeId?: string;
  /** Control API port; 0 picks a free one. */
  apiPort?: number;
  /** WHIP endpoint port; 0 picks a free one. */
  whipPort?: number;
  /** Base URL hosts reach the WHIP endpoint at (behind a proxy); default the local one. */
  publicWhipUrl?: string;
  /** A Temporal cluster; null starts the embedded dev server in the data folder. */
  temporal?: TemporalConfig | null;
  /** Serve Temporal's web UI with the embedded server. */
  temporalUi?: boolean;
  storeUrl?: string;
  busUrl?: string;
  apiKeys?: string[];
  profiles?: Profiles;
  rtmpUrl?: string;
  hlsDir?: string;
  /** Worker processes to run (default 2: one takes over at once when the other dies). */
  workers?: number;
  /**
   * Livestreams recorded at once; one more is refused (503) until one stops. A node past what its
   * cores carry loses every host's packets a little, not one livestream's: measure the figure
   * with `tapedeck bench system`. Default: no limit.
   */
  maxLivestreams?: number;
  /** Score snippets and escalate low ones to reviews: the built-in service or a platform's own. */
  moderation?: ModerationServiceConfig | null;
  /**
   * Decode each host's video once per node, in a process of its own, for the composite and the
   * host's recording alike (shared memory), instead of once in each. Off by default: a decoder's
   * crash then costs the picture of two recordings until it is back (placeholder meanwhile).
   */
  sharedDecode?: boolean;
  /**
   * Each host's recording serves the host's picture to the composite, scaled to a tile, so the
   * composite decodes nothing and takes only the hosts' sound from the ingest. Off by default:
   * the composite shows a host's placeholder for a second or two whenever the host's recording
   * changes (camera back on, a takeover), and a crash of that recording costs the composite the
   * host's picture until the next one serves.
   */
  hostTiles?: boolean;
  /**
   * Events a livestream's workflows (and its tracks' escalations) let their histories reach before
   * each goes on as a new run (Continue-As-New); default 5,000 for the livestream's and 2,000 for
   * the others. Lower for a Temporal cluster with a lower limit, or to have runs hand over within a
   * short test.
   */
  historyLimit?: number;
  log?: (line: string) => void;
}

export interface RunningNode {
  nodeId: string;
  dataDir: string;
  apiUrl: string;
  whipUrl: string;
  apiKey: string;
  whipSecret: string;
  temporal: TemporalConfig;
  temporalUiUrl: string | null;
  storeDescription: string;
  busDescription: string;
  store: ObjectStore;
  ingest: LiveIngest;
  /** The shared decoders, when the node runs them. */
  decoders: SharedDecoders | null;
  client: Client;
  livestreams: LivestreamClient;
  service: LivestreamService;
  workers: WorkerSupervisor[];
  metrics: Metrics;
  /** The moderation loop, when configured. */
  moderation: ModerationRuntime | null;
  /**
   * Stops the embedded Temporal server for `downMs` and starts it again on the same port and
   * data: what an operator's restart looks like to the workflows. Only for the embedded server.
   */
  restartTemporal(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The lowest history limit: a run that takes over a running recording reaches its first check
 * with 3 events (4 or more with signals waiting), so a limit below that would start new runs
 * without end.
 */
export const MIN_HISTORY_LIMIT = 8;

/**
 * One tapedeck node: the WHIP ingest, the control API, the node API its worker uses, and the
 * worker itself (a supervised child process that runs the Temporal workers and the media). With
 * no Temporal cluster configured it starts Temporal's dev server with its data in the data folder.
 */
export async function startNode(c: NodeConfig): Promise<RunningNode> {
  if (
    c.historyLimit !== undefined &&
    !(Number.isInteger(c.historyLimit) && c.historyLimit >= MIN_HISTORY_LIMIT)
  )
    throw new RangeError(
      `historyLimit must be a whole number of events, at least ${MIN_HISTORY_LIMIT} (got ${c.historyLimit})`,
    );
  const dataDir = resolve(c.dataDir);
  const nodeId = c.nodeId ?? 'node1';
  const log = c.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const f of cleanups.reverse())
      await f().catch((err: Error) => log(`stop: ${err.message}`));
  };
  try {
    let dev: DevServer | null = null;
    let temporal = c.temporal ?? null;
    if (!temporal) {
      dev = await startDevServer({
        dataDir: join(dataDir, 'temporal'),
        uiPort: c.temporalUi === false ? false : undefined,
      });
      cleanups.push(() => (dev ? dev.stop() : Promise.resolve()));
      temporal = { address: dev.address, namespace: dev.namespace };
    }
    const client = await connectClient(temporal);
    cleanups.push(() => client.connection.close());
    const workerConnection = await connectWorker(temporal);
    cleanups.push(() => workerConnection.close());
    const control = await startControlWorker({
      connection: workerConnection,
      namespace: temporal.namespace,
    });
    cleanups.push(() => control.shutdown());
    const livestreams = new LivestreamClient(client);

    const store = openStore(c.storeUrl ?? defaultStoreUrl(dataDir));
    cleanups.push(() => store.close());
    const bus: MessageBus = await openBus(c.busUrl ?? 'embedded', { dataDir });
    cleanups.push(() => bus.close());
    const outbox = await Outbox.open({ dataDir: join(dataDir, 'control'), bus });
    outbox.start();
    cleanups.push(() => outbox.close());
    let moderation: ModerationRuntime | null = null;
    if (c.moderation) {
      const m = await startModeration({
        dataDir,
        client,
        connection: workerConnection,
        namespace: temporal.namespace,
        bus,
        store,
        service: c.moderation,
        ...(c.historyLimit ? { historyLimit: c.historyLimit } : {}),
        log,
      });
      moderation = m;
      cleanups.push(() => m.close());
    }

    const metrics = new Metrics();
    metrics.define('tapedeck_livestreams_created_total', 'counter', 'Livestreams created');
    metrics.define('tapedeck_host_events_total', 'counter', 'Host events relayed to the workflows');
    metrics.define(
      'tapedeck_host_event_delivery_failures_total',
      'counter',
      'Host event sends that failed (retried)',
    );
    metrics.define('tapedeck_worker_restarts_total', 'counter', 'Worker process restarts');
    metrics.define('tapedeck_publishing_hosts', 'gauge', 'Hosts publishing now');

    const ingest = new LiveIngest({ loopbackOnly: true });
    ingest.on('warning', (w) => log(`ingest: ${w}`));
    cleanups.push(() => ingest.close());
    const stopAnnouncing = announceHostEvents(ingest, outbox, (err) =>
      log(`host event not queued: ${err.message}`),
    );
    cleanups.push(async () => stopAnnouncing());
    const relay = relayHostEvents(
      ingest,
      {
        hostEvent: async (ls, e) => {
          await livestreams.hostEvent(ls, e);
          metrics.add('tapedeck_host_events_total', 1, { type: e.type });
        },
      },
      (w) => {
        metrics.add('tapedeck_host_event_delivery_failures_total');
        log(w);
      },
    );
    cleanups.push(async () => relay.stop());

    const whipSecret = await persistentSecret(join(dataDir, 'secrets', 'whip-secret'));
    const apiKeys = c.apiKeys?.length
      ? c.apiKeys
      : [await persistentSecret(join(dataDir, 'secrets', 'api-key'))];
    const whip: WhipServer = await startWhipServer({
      backend: ingest,
      tokenSecret: whipSecret,
      port: c.whipPort ?? 0,
      onError: (err) => log(`whip: ${String(err)}`),
    });
    cleanups.push(() => whip.close());
    const publicWhip = (c.publicWhipUrl ?? whip.url).replace(/\/$/, '');

    const nodeSecret = randomBytes(24).toString('base64url');
    const book = new NodeMetricsBook();
    const profiles: Profiles = c.profiles ?? {
      composite: defaultProfile(DEFAULT_COMPOSITE_CANVAS),
      host: defaultProfile(DEFAULT_HOST_CANVAS),
    };
    if (c.sharedDecode && c.hostTiles)
      throw new Error('choose shared decoders or host tiles, not both');
    const decoders = c.sharedDecode ? new SharedDecoders({ ingest, log }) : null;
    const pictures =
      decoders ??
      (c.hostTiles ? new HostTiles(largestTile(profiles.composite.video, CAMERA)) : null);
    if (pictures) cleanups.push(() => pictures.close());
    // One port for the node API and the node itself: it knows who attached what.
    const ingestPort = new LocalIngestPort(ingest, pictures);
    const nodeApi: NodeApiServer = await startNodeApi({
      ingest: ingestPort,
      secret: nodeSecret,
      onWorkerMetrics: (slot, m) => book.report(slot, m),
      onError: (err) => log(`node API: ${String(err)}`),
    });
    cleanups.push(() => nodeApi.close());

    const known = new Map<string, string[]>();
    const service: LivestreamService = {
      async create(req: CreateLivestream) {
        const livestreamId = req.livestreamId ?? `ls-${randomBytes(6).toString('hex')}`;
        if (
          known.has(livestreamId) ||
          ingest.hasLivestream(livestreamId) ||
          (await livestreams.exists(livestreamId))
        )
          throw new ConflictError(`livestream ${livestreamId} exists`);
        const max = c.maxLivestreams;
        if (max !== undefined && ingest.openLivestreams() >= max)
          throw new UnavailableError(
            `this node records at most ${max} livestream(s) at once and is at that; ` +
              'try again once one stops, or on another node',
          );
        ingest.openLivestream(livestreamId);
        known.set(livestreamId, req.hostIds);
        const workflowId = await livestreams.start({
          livestreamId,
          nodeId,
          workerSlots: c.workers ?? 2,
          profiles,
          ...(c.rtmpUrl ? { rtmpUrl: c.rtmpUrl } : {}),
          ...(c.hlsDir ? { hlsDir: c.hlsDir } : {}),
          ...(c.historyLimit ? { historyLimit: c.historyLimit } : {}),
        });
        metrics.add('tapedeck_livestreams_created_total');
        const expiresAt = Date.now() + 86_400_000;
        return {
          livestreamId,
          workflowId,
          hosts: req.hostIds.map((hostId) => ({
            hostId,
            whipUrl: `${publicWhip}/whip/${livestreamId}/${hostId}`,
            token: issueToken(whipSecret, { livestreamId, hostId, expiresAt }),
          })),
        };
      },
      async state(livestreamId) {
        const state = await livestreams.state(livestreamId).catch((err: unknown) => {
          throw err instanceof NoAnswerError ? new UnavailableError(err.message) : err;
        });
        if (!state) throw new NotFoundError(`no livestream ${livestreamId}`);
        return { ...state, workflowId: workflowIds.livestream(livestreamId) };
      },
      async stop(livestreamId) {
        if (!(await livestreams.exists(livestreamId)))
          throw new NotFoundError(`no livestream ${livestreamId}`);
        await ingest.closeLivestream(livestreamId);
        await pictures?.closeLivestream(livestreamId);
        await relay.idle(livestreamId);
        await livestreams.stop(livestreamId);
      },
      async control(livestreamId, hostId, event: ControlEvent) {
        if (!ingest.hasLivestream(livestreamId))
          throw new NotFoundError(`no open livestream ${livestreamId}`);
        if (!ingest.presence(livestreamId, hostId))
          throw new NotFoundError(`host ${hostId} has not published to ${livestreamId}`);
        return ingest.control(livestreamId, hostId, event);
      },
      async recordings(livestreamId) {
        if (!(await livestreams.exists(livestreamId)))
          throw new NotFoundError(`no livestream ${livestreamId}`);
        return { workflows: await livestreams.recordingWorkflows(livestreamId) };
      },
      async snippets(livestreamId, track) {
        if (!(await livestreams.exists(livestreamId)))
          throw new NotFoundError(`no livestream ${livestreamId}`);
        const keys: string[] = [];
        const prefix = track ? `${livestreamId}/${track}/` : `${livestreamId}/`;
        for await (const o of store.list(prefix))
          if (o.key.split('/')[1] !== REVIEWS_FOLDER) keys.push(o.key);
        return keys;
      },
    };
    const api: ControlApi = await startControlApi({
      service,
      apiKeys,
      metrics: () => {
        let publishing = 0;
        for (const id of known.keys())
          for (const h of ingest.snapshot(id))
            if (h.presence.connection === 'publishing') publishing++;
        metrics.set('tapedeck_publishing_hosts', publishing);
        return metrics.text() + workerMetricsText(book.total());
      },
      port: c.apiPort ?? 0,
      onError: (err) => log(`api: ${String(err)}`),
    });
    cleanups.push(() => api.close());

    const workers: WorkerSupervisor[] = [];
    // Two workers serve the node's media queue: when one dies the other takes its recordings at
    // once, while the dead one restarts and delivers what its spool holds.
    const slots = c.workers ?? 2;
    if (slots > 0) {
      let starts = 0;
      for (let slot = 0; slot < slots; slot++) {
        const w = new WorkerSupervisor({
          args: ['--data', dataDir, '--node-id', nodeId, '--slot', String(slot)],
          env: {
            ...temporalConfigToEnv(temporal),
            TAPEDECK_NODE_API: nodeApi.url,
            TAPEDECK_NODE_SECRET: nodeSecret,
            TAPEDECK_STORE: c.storeUrl ?? defaultStoreUrl(dataDir),
            ...(c.busUrl ? { TAPEDECK_BUS: c.busUrl } : {}),
          },
          onLog: log,
          onStart: () => {
            if (starts++ >= slots) metrics.add('tapedeck_worker_restarts_total');
          },
          onOrphaned: (orphaned, how) =>
            void endOrphaned(
              { client, ingest: ingestPort, log },
              orphaned,
              `worker slot ${slot} exited (${how})`,
            ),
        });
        workers.push(w);
        w.start();
      }
      // Pushed last, so stopped first: recordings finish before what they use goes away.
      cleanups.push(() => Promise.all(workers.map((w) => w.stop())));
    }

    return {
      nodeId,
      dataDir,
      apiUrl: api.url,
      whipUrl: publicWhip,
      apiKey: apiKeys[0]!,
      whipSecret,
      temporal,
      temporalUiUrl: dev?.uiUrl ?? null,
      storeDescription: store.describe,
      busDescription: bus.describe,
      store,
      ingest,
      decoders,
      client,
      livestreams,
      service,
      workers,
      metrics,
      moderation,
      async restartTemporal(downMs: number) {
        if (!dev) throw new Error('only the embedded Temporal server can be restarted from here');
        const port = Number(dev.address.split(':').at(-1));
        await dev.stop();
        dev = null;
        await new Promise((r) => setTimeout(r, downMs));
        dev = await startDevServer({ dataDir: join(dataDir, 'temporal'), port, uiPort: false });
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
