import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { spawnTracked, stopTracked } from './children.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';

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

async function launch(
  port: number,
  storeDir: string,
  jetstream: boolean,
  timeoutMs: number,
): Promise<ChildProcess> {
  const args = ['-a', '127.0.0.1', '-p', String(port), '-n', `tapedeck-test-${port}`];
  if (jetstream) args.push('-js', '-sd', storeDir);
  const child = spawnTracked('nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      log += chunk.toString('utf8');
      // Logged once JetStream has restored its store and the client port is open.
      if (log.includes('Server is ready')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`nats-server exited (${code ?? signal}) before it was ready\n${log}`)),
    );
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`nats-server not ready within ${timeoutMs} ms\n${log}`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    await stopTracked(child, 'SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return child;
}

/** A private nats-server on 127.0.0.1, a free port and a fresh store folder. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const jetstream = opts.jetstream ?? true;
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const workDir = await mkdtemp(join(tmpdir(), 'tapedeck-nats-'));
  const storeDir = join(workDir, 'store');
  const port = await freeTcpPort();
  let child: ChildProcess | null = null;
  try {
    child = await launch(port, storeDir, jetstream, timeoutMs);
  } catch (err) {
    await rm(workDir, { recursive: true, force: true });
    throw err;
  }
  const stop = async (): Promise<void> => {
    if (child === null) return;
    const c = child;
    child = null;
    // SIGTERM lets JetStream flush its store, as in an orderly broker restart.
    await stopTracked(c, 'SIGTERM', 10_000);
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop,
    async restart() {
      await stop();
      child = await launch(port, storeDir, jetstream, timeoutMs);
    },
    async dispose() {
      await stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
