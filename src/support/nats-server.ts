import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { freeTcpPort } from './free-port.ts';
import { guardedSpawn } from './guarded-spawn.ts';
import { signalGroup, tool, type RestartableServer } from './process-group.ts';

/**
 * A private nats-server on 127.0.0.1, for tests and benchmarks that need a real broker. It can be
 * killed and started again on the same port with the same JetStream store.
 */
export interface NatsServer extends RestartableServer {
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
}

export interface NatsServerOptions {
  /** JetStream's store (-sd); null starts a server without JetStream. */
  storeDir: string | null;
  startTimeoutMs?: number;
}

export async function startNatsServer(o: NatsServerOptions): Promise<NatsServer> {
  if (o.storeDir !== null) await mkdir(o.storeDir, { recursive: true });
  const port = await freeTcpPort();
  const timeoutMs = o.startTimeoutMs ?? 20_000;
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const args = ['-a', '127.0.0.1', '-p', String(port), '-n', `tapedeck-${port}`];
    if (o.storeDir !== null) args.push('-js', '-sd', o.storeDir);
    const proc = guardedSpawn(tool('nats-server'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let log = '';
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`nats-server not ready within ${timeoutMs} ms\n${log.slice(-4000)}`)),
          timeoutMs,
        );
        const onData = (b: Buffer) => {
          log += b.toString('utf8');
          // Logged once JetStream has restored its store and the client port is open.
          if (log.includes('Server is ready')) resolve();
        };
        proc.stdout?.on('data', onData);
        proc.stderr?.on('data', onData);
        proc.once('exit', (code, signal) => {
          const why =
            code === 127
              ? 'cannot run nats-server; ./tapedeck installs it'
              : `nats-server exited (${code ?? signal}) while starting`;
          reject(new Error(`${why}\n${log.slice(-4000)}`));
        });
      });
    } catch (err) {
      child = null;
      await signalGroup(proc.pid, 'SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    // Past start-up its log is not needed; keep the pipes drained.
    proc.stdout?.removeAllListeners('data');
    proc.stderr?.removeAllListeners('data');
    proc.stdout?.resume();
    proc.stderr?.resume();
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    async kill() {
      const pid = child?.pid;
      child = null;
      await signalGroup(pid, 'SIGKILL');
    },
    start: launch,
    // SIGTERM lets JetStream flush its store.
    async stop() {
      const pid = child?.pid;
      child = null;
      await signalGroup(pid, 'SIGTERM', { killAfterMs: 10_000 });
    },
  };
}
