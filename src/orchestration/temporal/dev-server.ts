import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { freeTcpPort } from '../../support/free-port.ts';
import { guardedSpawn } from '../../support/guarded-spawn.ts';

export interface DevServerOptions {
  /** Folder for the server's SQLite file; history survives a restart of the server. */
  dataDir: string;
  namespace?: string;
  /** Frontend (gRPC) port; free one when omitted. */
  port?: number;
  /** Web UI port; free one when omitted, none when false. */
  uiPort?: number | false;
  /** The temporal CLI; `temporal` on PATH by default. */
  executable?: string;
  startTimeoutMs?: number;
  onLog?: (line: string) => void;
}

export interface DevServer {
  /** host:port for the SDK. */
  readonly address: string;
  readonly namespace: string;
  readonly uiUrl: string | null;
  readonly pid: number | undefined;
  /** Stops the server (its data stays in dataDir). */
  stop(): Promise<void>;
}

/**
 * Starts Temporal's dev server (the temporal CLI, SQLite in dataDir) on loopback and waits until
 * it answers. It is tapedeck's embedded default; production points at a Temporal cluster.
 */
export async function startDevServer(o: DevServerOptions): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchDevServer(o);
    } catch (err) {
      // The CLI picks its internal services' ports itself, free when it looked; on a busy machine
      // another process can take one before it binds. Fresh ports fix that.
      if (attempt >= START_ATTEMPTS || !(err instanceof PortTakenError)) throw err;
      o.onLog?.(`temporal dev server: ${err.message.split('\n')[0]}; starting it again`);
    }
  }
}

const START_ATTEMPTS = 3;
const LOG_KEPT = 4_000;

class PortTakenError extends Error {
  override name = 'PortTakenError';
}

async function launchDevServer(o: DevServerOptions): Promise<DevServer> {
  const namespace = o.namespace ?? 'default';
  const port = o.port ?? (await freeTcpPort());
  const uiPort = o.uiPort === false ? null : (o.uiPort ?? (await freeTcpPort()));
  await mkdir(o.dataDir, { recursive: true });
  const args = [
    ...['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port)],
    ...['--http-port', String(await freeTcpPort()), '--metrics-port', String(await freeTcpPort())],
    ...['--db-filename', join(o.dataDir, 'temporal.sqlite'), '--namespace', namespace],
    ...['--log-level', 'warn', '--log-format', 'json'],
    // No call home for a version check: the embedded server talks to loopback only.
    ...['--dynamic-config-value', 'frontend.enableServerVersionCheck=false'],
    ...(uiPort === null ? ['--headless'] : ['--ui-ip', '127.0.0.1', '--ui-port', String(uiPort)]),
  ];
  const child = guardedSpawn(o.executable ?? 'temporal', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' },
  });
  // A Go panic prints its cause first and a long stack after it: keep both ends.
  let head = '';
  // What came after head, its last LOG_KEPT characters.
  let tail = '';
  let total = 0;
  let portTaken = false;
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    // The CLI checks the ports it is given; the ports of the services inside it it picks itself
    // and binds later, and one taken in between makes the server log it, then panic.
    portTaken ||= /address already in use/.test((tail || head).slice(-64) + text);
    total += text.length;
    const toHead = Math.max(0, LOG_KEPT - head.length);
    head += text.slice(0, toHead);
    tail = (tail + text.slice(toHead)).slice(-LOG_KEPT);
    for (const line of text.split('\n')) if (line.trim()) o.onLog?.(line);
  };
  const log = (): string => head + (total > head.length + tail.length ? '\n[…]\n' : '') + tail;
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`temporal could not start: ${err.message}`)));
    child.once('exit', (code, signal) => {
      // What it wrote last may still be on its way through the pipes.
      const drained = Promise.all(
        [child.stdout, child.stderr].map(
          (s) =>
            new Promise<void>((resolve) =>
              s && !s.readableEnded ? s.once('end', resolve) : resolve(),
            ),
        ),
      );
      void Promise.race([drained, new Promise((r) => setTimeout(r, 1_000))]).then(() => {
        const message = `temporal dev server exited (${code ?? signal}) while starting\n${log()}`;
        reject(portTaken ? new PortTakenError(message) : new Error(message));
      });
    });
  });
  exited.catch(() => undefined);
  const address = `127.0.0.1:${port}`;
  const waiting = new AbortController();
  try {
    await Promise.race([waitServing(address, o.startTimeoutMs ?? 60_000, waiting.signal), exited]);
  } catch (err) {
    await stopChild(child);
    throw err;
  } finally {
    // A server that exited leaves nothing to wait for.
    waiting.abort();
  }
  return {
    address,
    namespace,
    uiUrl: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
    pid: child.pid,
    stop: () => stopChild(child),
  };
}

async function waitServing(address: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline && !signal.aborted) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        // A deadline: something else listening on the port may never answer.
        const health = await connection.withDeadline(Date.now() + 2_000, () =>
          connection.healthService.check({}),
        );
        // 1 is SERVING in grpc.health.v1.
        if (health.status === 1) return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `temporal dev server not serving at ${address} within ${timeoutMs} ms: ${String(last)}`,
  );
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
