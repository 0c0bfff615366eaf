import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startDevServer, type DevServer } from '../../orchestration/temporal/dev-server.ts';
import { freeTcpPort } from '../../support/free-port.ts';
import { guardedSpawn } from '../../support/guarded-spawn.ts';

/**
 * The soak's own servers, on 127.0.0.1, each one it can kill -9 and start again on the same port
 * with the same data: that is what a crashed and restarted production server looks like.
 */
export interface SoakServer {
  readonly name: string;
  readonly address: string;
  readonly pid: number | undefined;
  /** SIGKILL to the server's process group; resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it answers. */
  start(): Promise<void>;
  /** Orderly stop at the end of the run. */
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** setup.sh builds the Go tools into .tools/bin; elsewhere they are on PATH. */
export function tool(name: string): string {
  const local = join(ROOT, '.tools', 'bin', name);
  return existsSync(local) ? local : name;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

async function killGroup(pid: number | undefined, signal: NodeJS.Signals): Promise<void> {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + 15_000;
  while (!gone(pid) && Date.now() < deadline) await sleep(50);
}

function exitedEarly(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
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
  const data = join(dir, 'data');
  const sidecar = join(dir, 'sidecar');
  await mkdir(data, { recursive: true });
  const port = await freeTcpPort();
  const accessKeyId = `soak${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(16).toString('hex');
  const endpoint = `http://127.0.0.1:${port}`;
  let useSidecar = false;
  let child: ChildProcess | null = null;

  const answers = async () => {
    try {
      const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return true;
    } catch {
      return false;
    }
  };
  const launch = async (): Promise<void> => {
    if (useSidecar) await mkdir(sidecar, { recursive: true });
    const args = ['--port', `127.0.0.1:${port}`, '--quiet', 'posix'];
    if (useSidecar) args.push('--sidecar', sidecar);
    args.push(data);
    const proc = guardedSpawn(tool('versitygw'), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ROOT_ACCESS_KEY_ID: accessKeyId,
        ROOT_SECRET_ACCESS_KEY: secretAccessKey,
      },
    });
    child = proc;
    let output = '';
    const keep = (b: Buffer) => (output = (output + b.toString('utf8')).slice(-4000));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (spawnError)
        throw new Error(
          `cannot run versitygw (${spawnError.message}); ./tapedeck installs it into .tools/bin`,
        );
      if (exitedEarly(proc)) {
        if (!useSidecar && /xattr/i.test(output)) {
          // No user xattrs on this filesystem: versitygw keeps its metadata beside the data.
          useSidecar = true;
          return launch();
        }
        throw new Error(`versitygw exited while starting:\n${output}`);
      }
      if (await answers()) return;
      await sleep(50);
    }
    await killGroup(proc.pid, 'SIGKILL');
    throw new Error(`versitygw did not answer on ${endpoint} within 20 s:\n${output}`);
  };

  await launch();
  const s3 = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
  return {
    name: 'versitygw',
    address: `127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    storeUrl: `s3://${bucket}/${prefix}`,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: 'us-east-1',
    },
    async kill() {
      await killGroup(child?.pid, 'SIGKILL');
      child = null;
    },
    start: launch,
    async stop() {
      await killGroup(child?.pid, 'SIGTERM');
      child = null;
    },
  };
}

export interface NatsServer extends SoakServer {
  url: string;
}

/** nats-server with JetStream, its store in `dir`. */
export async function startNatsServer(dir: string): Promise<NatsServer> {
  await mkdir(dir, { recursive: true });
  const port = await freeTcpPort();
  let child: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    const args = ['-a', '127.0.0.1', '-p', String(port), '-n', `tapedeck-soak-${port}`];
    args.push('-js', '-sd', dir);
    const proc = guardedSpawn(tool('nats-server'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nats-server not ready within 20 s\n${log.slice(-4000)}`)),
        20_000,
      );
      const onData = (b: Buffer) => {
        log += b.toString('utf8');
        // Logged once JetStream has restored its store and the client port is open.
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`nats-server exited (${code ?? signal}) while starting\n${log.slice(-4000)}`),
        );
      });
    }).catch(async (err: unknown) => {
      await killGroup(proc.pid, 'SIGKILL');
      throw err;
    });
    // Past start-up its log is not needed; keep the pipes drained.
    proc.stdout?.removeAllListeners('data');
    proc.stderr?.removeAllListeners('data');
    proc.stdout?.resume();
    proc.stderr?.resume();
  };
  await launch();
  return {
    name: 'nats-server',
    address: `127.0.0.1:${port}`,
    url: `nats://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    async kill() {
      await killGroup(child?.pid, 'SIGKILL');
      child = null;
    },
    start: launch,
    async stop() {
      await killGroup(child?.pid, 'SIGTERM');
      child = null;
    },
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
      await killGroup(dev?.pid, 'SIGKILL');
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
