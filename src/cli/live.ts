import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { assertId } from '../domain/ids.ts';
import {
  defaultProfile,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
} from '../domain/profile.ts';
import { issueToken } from '../domain/whip-token.ts';
import { LiveIngest } from '../ingest/live-ingest.ts';
import { startWhipServer } from '../ingest/whip/server.ts';
import { MediaWorkerPool, spareMediaWorkers } from '../media/media-worker-pool.ts';
import { drainDelivery, parseDeliveryConfig, startDelivery } from '../recorder/delivery-runtime.ts';
import { announceHostEvents } from '../recorder/host-events.ts';
import { LivestreamRecorder } from '../recorder/livestream-recorder.ts';
import { numberOption, parseOptions, UsageError, type Command } from './command.ts';

const SECRET_ENV = 'TAPEDECK_WHIP_SECRET';

/** The token secret: from --secret-file or the environment, never from the command line. */
export async function whipSecret(file: string | undefined): Promise<string> {
  const secret = file ? (await readFile(file, 'utf8')).trim() : process.env[SECRET_ENV]?.trim();
  if (!secret)
    throw new UsageError(
      `no token secret: set ${SECRET_ENV} or pass --secret-file FILE (at least 16 characters)`,
    );
  if (secret.length < 16) throw new UsageError('the token secret must be at least 16 characters');
  return secret;
}

function parseListen(text: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new UsageError(`--listen "${text}" is not HOST:PORT, e.g. 127.0.0.1:8080`);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`--listen port ${port} is out of range`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export const liveCommand: Command = {
  name: 'live',
  help: `Usage: tapedeck live --livestream ID --out DIR [options]

Starts a WHIP endpoint (RFC 9725) and records the livestream while hosts publish to it: one
composite of every host and one recording per host, in 15-second snippets delivered to the store,
with snippet and host events (joined, left, dropped, resumed, camera and microphone off/on) on
the bus. A host that drops and publishes again within 10 s continues its recordings.

Hosts publish to  http://HOST:PORT/whip/LIVESTREAM/HOST  with  Authorization: Bearer TOKEN,
where TOKEN comes from \`tapedeck token\` with the same secret (${SECRET_ENV}).

Options:
  --livestream ID      the livestream to take (A-Z a-z 0-9 _ -)                      [required]
  --out DIR            data folder: spool, outbox, embedded bus and the default store [required]
  --listen HOST:PORT   where the WHIP endpoint listens        [default: 127.0.0.1:8080]
  --secret-file FILE   token secret (else ${SECRET_ENV})
  --store URL          file://DIR or s3://BUCKET/PREFIX                 [default: file://OUT/store]
  --bus URL            embedded, nats://HOST:PORT or pubsub://PROJECT/TOPIC       [default: embedded]
  --duration S         stop after S seconds (default: until Ctrl-C or SIGTERM)
  -h, --help           this help

ICE is offered on 127.0.0.1 only: put a TURN server or an SFU in front for publishers elsewhere.

Environment:
  TAPEDECK_SPARE_MEDIA_WORKERS  media processes kept loaded and warmed up, so a joining host's
                                recording starts without loading GStreamer  [default: 4, 0-16]

Example:
  export ${SECRET_ENV}=$(head -c 32 /dev/urandom | base64)
  tapedeck live --livestream show1 --out /var/lib/tapedeck &
  tapedeck token --livestream show1 --host ana      # give this to the host's publisher
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      livestream: { type: 'string' },
      out: { type: 'string' },
      listen: { type: 'string' },
      'secret-file': { type: 'string' },
      store: { type: 'string' },
      bus: { type: 'string' },
      duration: { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.livestream) throw new UsageError('--livestream ID is required');
    if (!values.out) throw new UsageError('--out DIR is required');
    assertId('livestream id', values.livestream);
    const listen = parseListen(values.listen ?? '127.0.0.1:8080');
    const durationSec = values.duration
      ? numberOption('duration', values.duration, 0, 1, 7 * 86_400)
      : 0;
    const secret = await whipSecret(values['secret-file']);
    const livestreamId = values.livestream;

    const config = { dataDir: resolve(values.out), storeUrl: values.store, busUrl: values.bus };
    const runtime = await startDelivery(config, await parseDeliveryConfig(config));
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const ingest = new LiveIngest({ loopbackOnly: true });
    ingest.on('warning', (w) => log(`ingest: ${w}`));
    const stopAnnouncing = announceHostEvents(ingest, runtime.outbox, (err) =>
      log(`host event not queued: ${err.message}`),
    );
    const pool = new MediaWorkerPool(spareMediaWorkers());
    const recorder = new LivestreamRecorder({
      pool,
      ingest,
      livestreamId,
      composite: defaultProfile(DEFAULT_COMPOSITE_CANVAS),
      host: defaultProfile(DEFAULT_HOST_CANVAS),
      deliverer: runtime.deliverer,
      onLog: log,
    });
    try {
      await recorder.start();
      const server = await startWhipServer({
        backend: ingest,
        tokenSecret: secret,
        host: listen.host,
        port: listen.port,
      });
      process.stdout.write(
        `recording livestream ${livestreamId}; hosts publish to ${server.url}/whip/${livestreamId}/HOST\n` +
          `store ${runtime.store.describe}, bus ${runtime.bus.describe}; Ctrl-C stops\n`,
      );
      await new Promise<void>((done) => {
        const timer = durationSec ? setTimeout(done, durationSec * 1000) : undefined;
        for (const signal of ['SIGINT', 'SIGTERM'] as const)
          process.once(signal, () => {
            clearTimeout(timer);
            done();
          });
      });
      log('stopping: ending publishes and closing the last snippets…');
      await server.close();
      await ingest.close();
      await recorder.stop();
      const left = await drainDelivery(runtime, 120_000);
      process.stdout.write(
        `done: ${recorder.recordings().length} recordings; ` +
          `${left.snippetsPending} snippets and ${left.eventsPending} events still waiting\n`,
      );
      return left.snippetsPending + left.eventsPending > 0 ? 1 : 0;
    } finally {
      stopAnnouncing();
      await ingest.close();
      await recorder.stop();
      await pool.close();
      await runtime.close();
    }
  },
};

export const tokenCommand: Command = {
  name: 'token',
  help: `Usage: tapedeck token --livestream ID --host ID [--ttl S] [--secret-file FILE]

Prints a bearer token that lets one host publish to one livestream over WHIP, signed with the
secret \`tapedeck live\` uses (${SECRET_ENV} or --secret-file). A token for another livestream
or host is refused with 403; an expired one with 401.

Options:
  --livestream ID      the livestream                                   [required]
  --host ID            the host (A-Z a-z 0-9 _ -)                       [required]
  --ttl S              seconds the token stays valid                    [default: 86400]
  --secret-file FILE   token secret (else ${SECRET_ENV})
  -h, --help           this help
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      livestream: { type: 'string' },
      host: { type: 'string' },
      ttl: { type: 'string' },
      'secret-file': { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.livestream || !values.host)
      throw new UsageError('--livestream ID and --host ID are required');
    assertId('livestream id', values.livestream);
    assertId('host id', values.host);
    const ttl = numberOption('ttl', values.ttl, 86_400, 1, 365 * 86_400);
    const secret = await whipSecret(values['secret-file']);
    const token = issueToken(secret, {
      livestreamId: values.livestream,
      hostId: values.host,
      expiresAt: Date.now() + ttl * 1000,
    });
    process.stdout.write(`${token}\n`);
    return 0;
  },
};
