import type { ModerationServiceConfig } from '../moderation/moderation-runtime.ts';
import { resolve } from 'node:path';
import { assertId } from '../domain/ids.ts';
import { startNode } from '../node/node.ts';
import { temporalConfigFromEnv } from '../orchestration/temporal/connection.ts';
import { intOption, parseOptions, UsageError, type Command } from './command.ts';

export const upCommand: Command = {
  name: 'up',
  help: `Usage: tapedeck up [--data DIR] [--port PORT] [options]

Runs one tapedeck node until Ctrl-C or SIGTERM:
  - the control API (create livestreams, host events, stop, state, snippets; /openapi.json,
    /metrics) on --port,
  - the WHIP endpoint hosts publish to (RFC 9725) on --whip-port,
  - a worker process (started again if it dies) that runs the Temporal workers and the media,
  - and, unless TAPEDECK_TEMPORAL_ADDRESS points at a cluster, Temporal's dev server with its
    data in DIR/temporal and its web UI on a local port.
Snippets go to the store (default DIR/store) and events to the bus (default: embedded, DIR/bus).

Options:
  --data DIR          data folder                                       [default: ./.data/node]
  --port PORT         control API port on 127.0.0.1                    [default: 8080]
  --whip-port PORT    WHIP endpoint port on 127.0.0.1                   [default: 8081]
  --public-whip URL   base URL hosts reach the WHIP endpoint at (behind a proxy)
  --node-id ID        this node's id; its media task queue is tapedeck-media-ID [default: node1]
  --store URL         file://DIR or s3://BUCKET/PREFIX                  [default: file://DATA/store]
  --bus URL           embedded, nats://HOST:PORT or pubsub://PROJECT/TOPIC  [default: embedded]
  --rtmp URL          stream every composite live to this RTMP URL
  --max-livestreams N refuse a new livestream (503, Retry-After) while N are recording; a node
                      past what its cores carry damages every livestream a little, so measure N
                      with \`tapedeck bench system\` (2 to 4 on 2 cores here) [default: no limit]
  --shared-decode     decode each host's video once on this node, in a process of its own,
                      for the composite and the host's recording alike (frames over
                      loopback), not once in each; the ingest sends one video copy per host
                      instead of two. Off by default: it measured no CPU saved on the node yet,
                      and a decoder's crash shows the placeholder in both of the host's
                      recordings until it is back, a second or two
                      (docs/benchmarks.md, "Decoding each host once")
  --host-tiles        each host's recording serves its picture to the composite, scaled to a
                      tile, so the composite decodes nothing and the ingest sends one video
                      copy per host. Off by default: whenever a host's recording changes
                      (camera back on, a takeover) the composite shows the host's placeholder
                      for a second or two (docs/benchmarks.md, "Tiles from the host's recording")
  --no-temporal-ui    do not serve the embedded Temporal web UI
  --moderation        score every snippet and escalate low ones to reviews in the built-in
                      moderation service (reviewer page and API on 127.0.0.1)
  --moderation-port PORT   its port                                     [default: any free one]
  --moderation-url URL     send reviews to this moderation service instead (the platform's own,
                      or a shared one); its token in TAPEDECK_MODERATION_TOKEN
  -h, --help          this help

Environment:
  TAPEDECK_TEMPORAL_ADDRESS     a Temporal cluster (host:port) instead of the embedded server
  TAPEDECK_TEMPORAL_NAMESPACE   its namespace                                [default: default]
  TAPEDECK_TEMPORAL_TLS=1, TAPEDECK_TEMPORAL_TLS_CERT, TAPEDECK_TEMPORAL_TLS_KEY,
  TAPEDECK_TEMPORAL_SERVER_NAME, TAPEDECK_TEMPORAL_API_KEY   TLS, mTLS or an API key
  TAPEDECK_API_KEYS             comma-separated API keys (default: one kept in DATA/secrets/api-key)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3   for s3:// stores
  TAPEDECK_SPARE_MEDIA_WORKERS  media processes each worker keeps loaded for recordings about to
                                start (hosts joining, a takeover)            [default: 4, 0-16]

Example:
  tapedeck up --data /var/lib/tapedeck &
  tapedeck livestream create --hosts 4 --data /var/lib/tapedeck
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      data: { type: 'string' },
      port: { type: 'string' },
      'whip-port': { type: 'string' },
      'public-whip': { type: 'string' },
      'node-id': { type: 'string' },
      store: { type: 'string' },
      bus: { type: 'string' },
      rtmp: { type: 'string' },
      'max-livestreams': { type: 'string' },
      'no-temporal-ui': { type: 'boolean' },
      'shared-decode': { type: 'boolean' },
      'host-tiles': { type: 'boolean' },
      moderation: { type: 'boolean' },
      'moderation-port': { type: 'string' },
      'moderation-url': { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (values['shared-decode'] && values['host-tiles'])
      throw new UsageError(
        '--shared-decode and --host-tiles are two ways to share a picture: choose one',
      );
    const apiPort = intOption('port', values.port, 8080, 0, 65535);
    const whipPort = intOption('whip-port', values['whip-port'], 8081, 0, 65535);
    const nodeId = assertId('node id', values['node-id'] ?? 'node1');
    const maxLivestreams =
      values['max-livestreams'] === undefined
        ? undefined
        : intOption('max-livestreams', values['max-livestreams'], 0, 1, 1000);
    const apiKeys = (process.env.TAPEDECK_API_KEYS ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    if (apiKeys.some((k) => k.length < 16))
      throw new UsageError('TAPEDECK_API_KEYS: every key must be at least 16 characters');
    const log = (line: string) => process.stderr.write(`${line}\n`);
    let moderation: ModerationServiceConfig | null = null;
    if (values['moderation-url']) {
      const token = process.env.TAPEDECK_MODERATION_TOKEN ?? '';
      if (!token)
        throw new UsageError(
          '--moderation-url needs the service token in TAPEDECK_MODERATION_TOKEN',
        );
      moderation = { url: values['moderation-url'], token };
    } else if (values.moderation || values['moderation-port']) {
      moderation = {
        builtIn: true,
        port: intOption('moderation-port', values['moderation-port'], 0, 0, 65535),
      };
    }
    const node = await startNode({
      dataDir: resolve(values.data ?? '.data/node'),
      nodeId,
      apiPort,
      whipPort,
      temporal: temporalConfigFromEnv(),
      temporalUi: !values['no-temporal-ui'],
      ...(values['public-whip'] ? { publicWhipUrl: values['public-whip'] } : {}),
      ...(values.store ? { storeUrl: values.store } : {}),
      ...(values.bus ? { busUrl: values.bus } : {}),
      ...(values.rtmp ? { rtmpUrl: values.rtmp } : {}),
      ...(maxLivestreams !== undefined ? { maxLivestreams } : {}),
      ...(apiKeys.length ? { apiKeys } : {}),
      ...(values['shared-decode'] ? { sharedDecode: true } : {}),
      ...(values['host-tiles'] ? { hostTiles: true } : {}),
      moderation,
      log,
    });
    process.stdout.write(
      `tapedeck node ${node.nodeId} is up\n` +
        `  control API   ${node.apiUrl}   (API key in ${node.dataDir}/secrets/api-key; ${node.apiUrl}/openapi.json)\n` +
        `  WHIP          ${node.whipUrl}/whip/LIVESTREAM/HOST\n` +
        `  Temporal      ${node.temporal.address} namespace ${node.temporal.namespace}` +
        (node.temporalUiUrl ? `, web UI ${node.temporalUiUrl}` : '') +
        '\n' +
        `  store         ${node.storeDescription}\n  bus           ${node.busDescription}\n` +
        (node.moderation
          ? `  moderation    ${node.moderation.serviceUrl}` +
            (node.moderation.reviewerLogin
              ? `   (reviewer page; log in as "${node.moderation.reviewerLogin.name}" with the token in ${node.dataDir}/secrets/moderation-reviewer-token)`
              : '') +
            '\n'
          : '') +
        'Ctrl-C stops (recordings finish their last snippet first).\n',
    );
    await new Promise<void>((done) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
    });
    log('stopping…');
    await node.stop();
    return 0;
  },
};
