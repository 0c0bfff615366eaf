import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { startControlWorker, type NodeWorker } from '../worker.ts';
import { connectClient, connectWorker } from './connection.ts';
import { startDevServer, type DevServer } from './dev-server.ts';

/** Temporal's dev server in `dir`, with a client, a worker connection and the workflow worker. */
export interface LocalTemporal {
  dev: DevServer;
  client: Client;
  connection: NativeConnection;
  control: NodeWorker;
  /** Stops all of it, the server last. */
  close(): Promise<void>;
}

/** For benchmarks and tests that need workflows running on this machine and nothing else. */
export async function startLocalTemporal(dir: string): Promise<LocalTemporal> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
  };
  try {
    const dev = await startDevServer({ dataDir: join(dir, 'temporal'), uiPort: false });
    cleanups.push(() => dev.stop());
    const config = { address: dev.address, namespace: dev.namespace };
    const client = await connectClient(config);
    cleanups.push(() => client.connection.close());
    const connection = await connectWorker(config);
    cleanups.push(() => connection.close());
    const control = await startControlWorker({ connection, namespace: dev.namespace });
    cleanups.push(() => control.shutdown());
    return { dev, client, connection, control, close };
  } catch (err) {
    await close();
    throw err;
  }
}
