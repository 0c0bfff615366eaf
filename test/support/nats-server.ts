import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer as launch } from '../../src/support/nats-server.ts';

export interface NatsServer {
  /** nats://127.0.0.1:PORT */
  url: string;
  port: number;
  /** JetStream's store (-sd); kept across stop() and restart(). */
  storeDir: string;
  /** Stops the server and keeps its store. */
  stop(): Promise<void>;
  /** Starts it again (stopping it first if needed) on the same port with the same store. */
  restart(): Promise<void>;
  /** Stops it and removes its temporary folder. */
  dispose(): Promise<void>;
}

export interface NatsServerOptions {
  /** false starts a server without JetStream. */
  jetstream?: boolean;
  startTimeoutMs?: number;
}

/** A private nats-server on 127.0.0.1, a free port and a fresh store folder. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const workDir = await mkdtemp(join(tmpdir(), 'tapedeck-nats-'));
  const storeDir = join(workDir, 'store');
  const server = await launch({
    storeDir: (opts.jetstream ?? true) ? storeDir : null,
    startTimeoutMs: opts.startTimeoutMs ?? 15_000,
  }).catch(async (err: unknown) => {
    await rm(workDir, { recursive: true, force: true });
    throw err;
  });
  return {
    url: server.url,
    port: server.port,
    storeDir,
    stop: () => server.stop(),
    async restart() {
      await server.stop();
      await server.start();
    },
    async dispose() {
      await server.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
