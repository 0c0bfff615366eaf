import { startDevServer, type DevServer } from '../../orchestration/temporal/dev-server.ts';
import { freeTcpPort } from '../../support/free-port.ts';
import { startNatsServer as startBroker } from '../../support/nats-server.ts';
import { signalGroup, tool, type RestartableServer } from '../../support/process-group.ts';
import { startVersityGw } from '../../support/versitygw.ts';

/**
 * The soak's own servers, on 127.0.0.1, each one it can kill -9 and start again on the same port
 * with the same data: that is what a crashed and restarted production server looks like.
 */
export interface SoakServer extends RestartableServer {
  readonly name: string;
  readonly address: string;
}

export interface S3Server extends SoakServer {
  /** s3://BUCKET/PREFIX for the node. */
  storeUrl: string;
  /** What an S3 client needs to reach it (AWS_ENDPOINT_URL and credentials). */
  env: Record<string, string>;
}

/** versitygw's posix backend in `dir`; one bucket, whose objects go under `prefix`. */
export async function startS3Server(
  dir: string,
  { bucket = 'soak', prefix = 'tapedeck' }: { bucket?: string; prefix?: string } = {},
): Promise<S3Server> {
  const gw = await startVersityGw({ dir, bucket });
  return {
    name: 'versitygw',
    address: `127.0.0.1:${gw.port}`,
    get pid() {
      return gw.pid;
    },
    storeUrl: `s3://${bucket}/${prefix}`,
    env: gw.env,
    kill: () => gw.kill(),
    start: () => gw.start(),
    stop: () => gw.stop(),
  };
}

export interface NatsServer extends SoakServer {
  url: string;
}

/** nats-server with JetStream, its store in `dir`. */
export async function startNatsServer(dir: string): Promise<NatsServer> {
  const nats = await startBroker({ storeDir: dir });
  return {
    name: 'nats-server',
    address: `127.0.0.1:${nats.port}`,
    url: nats.url,
    get pid() {
      return nats.pid;
    },
    kill: () => nats.kill(),
    start: () => nats.start(),
    stop: () => nats.stop(),
  };
}

/** Temporal's dev server, its SQLite file in `dir`, kept across kills. */
export async function startTemporalServer(dir: string): Promise<SoakServer> {
  const port = await freeTcpPort();
  const open = () =>
    startDevServer({ dataDir: dir, port, uiPort: false, executable: tool('temporal') });
  let dev: DevServer | null = await open();
  return {
    name: 'temporal',
    address: `127.0.0.1:${port}`,
    get pid() {
      return dev?.pid;
    },
    async kill() {
      await signalGroup(dev?.pid, 'SIGKILL');
      dev = null;
    },
    async start() {
      dev = await open();
    },
    async stop() {
      await dev?.stop();
      dev = null;
    },
  };
}
