import { readFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';

/** Where Temporal is: the embedded dev server, or a cluster (TLS, mTLS or an API key). */
export interface TemporalConfig {
  address: string;
  namespace: string;
  /** Use TLS (implied by a client certificate or an API key). */
  tls?: boolean;
  clientCertPath?: string;
  clientKeyPath?: string;
  serverName?: string;
  apiKey?: string;
}

/** Reads TAPEDECK_TEMPORAL_* from the environment; null when no address is set. */
export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalConfig | null {
  const address = env.TAPEDECK_TEMPORAL_ADDRESS?.trim();
  if (!address) return null;
  return {
    address,
    namespace: env.TAPEDECK_TEMPORAL_NAMESPACE?.trim() || 'default',
    ...(env.TAPEDECK_TEMPORAL_TLS === '1' ? { tls: true } : {}),
    ...(env.TAPEDECK_TEMPORAL_TLS_CERT ? { clientCertPath: env.TAPEDECK_TEMPORAL_TLS_CERT } : {}),
    ...(env.TAPEDECK_TEMPORAL_TLS_KEY ? { clientKeyPath: env.TAPEDECK_TEMPORAL_TLS_KEY } : {}),
    ...(env.TAPEDECK_TEMPORAL_SERVER_NAME ? { serverName: env.TAPEDECK_TEMPORAL_SERVER_NAME } : {}),
    ...(env.TAPEDECK_TEMPORAL_API_KEY ? { apiKey: env.TAPEDECK_TEMPORAL_API_KEY } : {}),
  };
}

/** The same config as environment variables, for the processes a node starts. */
export function temporalConfigToEnv(c: TemporalConfig): Record<string, string> {
  return {
    TAPEDECK_TEMPORAL_ADDRESS: c.address,
    TAPEDECK_TEMPORAL_NAMESPACE: c.namespace,
    ...(c.tls ? { TAPEDECK_TEMPORAL_TLS: '1' } : {}),
    ...(c.clientCertPath ? { TAPEDECK_TEMPORAL_TLS_CERT: c.clientCertPath } : {}),
    ...(c.clientKeyPath ? { TAPEDECK_TEMPORAL_TLS_KEY: c.clientKeyPath } : {}),
    ...(c.serverName ? { TAPEDECK_TEMPORAL_SERVER_NAME: c.serverName } : {}),
    ...(c.apiKey ? { TAPEDECK_TEMPORAL_API_KEY: c.apiKey } : {}),
  };
}

async function tlsOptions(c: TemporalConfig) {
  if (c.clientCertPath && c.clientKeyPath) {
    return {
      ...(c.serverName ? { serverNameOverride: c.serverName } : {}),
      clientCertPair: {
        crt: await readFile(c.clientCertPath),
        key: await readFile(c.clientKeyPath),
      },
    };
  }
  if (c.tls || c.apiKey) return c.serverName ? { serverNameOverride: c.serverName } : true;
  return undefined;
}

export async function connectClient(c: TemporalConfig): Promise<Client> {
  const tls = await tlsOptions(c);
  const connection = await Connection.connect({
    address: c.address,
    ...(tls ? { tls } : {}),
    ...(c.apiKey ? { apiKey: c.apiKey } : {}),
    connectTimeout: 10_000,
  });
  return new Client({ connection, namespace: c.namespace });
}

/** Installs the SDK runtime first: it must exist before the first native connection. */
export async function connectWorker(c: TemporalConfig): Promise<NativeConnection> {
  installRuntime();
  const tls = await tlsOptions(c);
  return NativeConnection.connect({
    address: c.address,
    ...(tls ? { tls } : {}),
    ...(c.apiKey ? { apiKey: c.apiKey } : {}),
  });
}

let runtimeInstalled = false;

// Expected on a worker that serves one kind of task queue.
const QUIET = ['No workflows registered', 'No activities registered', 'No Nexus services'];

/** Keeps the SDK's own logging to warnings: the node's log says what happens to recordings. */
export function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: (m, meta) => {
        if (!QUIET.some((q) => m.startsWith(q)))
          process.stderr.write(`temporal: ${m} ${meta ? JSON.stringify(meta) : ''}\n`);
      },
      error: (m, meta) =>
        process.stderr.write(`temporal: ${m} ${meta ? JSON.stringify(meta) : ''}\n`),
    },
  });
}
