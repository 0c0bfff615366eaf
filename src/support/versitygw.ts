import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeTcpPort } from './free-port.ts';
import { guardedSpawn } from './guarded-spawn.ts';
import { hasExited, signalGroup, tool, type RestartableServer } from './process-group.ts';

/**
 * A private S3 server: versitygw's posix backend on 127.0.0.1, for tests and benchmarks that need a
 * real one. It can be killed and started again on the same port with the same data, which is what
 * a crashed and restarted production store looks like.
 */
export interface VersityGw extends RestartableServer {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The posix backend's root: one folder per bucket. */
  readonly dataDir: string;
  /** What an S3 client needs to reach it. */
  readonly env: Record<string, string>;
}

export interface VersityGwOptions {
  /** Its data (and metadata, where it needs a sidecar) go under this folder. */
  dir: string;
  bucket: string;
  /** Keep metadata in a sidecar folder instead of xattrs from the start. */
  sidecar?: boolean;
  startTimeoutMs?: number;
  /** VERSITYGW in the environment overrides the built one. */
  executable?: string;
}

export async function startVersityGw(o: VersityGwOptions): Promise<VersityGw> {
  const dataDir = join(o.dir, 'data');
  // The sidecar must be outside the data root, or it shows up as a bucket.
  const sidecarDir = join(o.dir, 'sidecar');
  await mkdir(dataDir, { recursive: true });
  const executable = o.executable ?? process.env.VERSITYGW ?? tool('versitygw');
  const port = await freeTcpPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  const accessKeyId = `local${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(16).toString('hex');
  const timeoutMs = o.startTimeoutMs ?? 20_000;
  let useSidecar = o.sidecar ?? false;
  let child: ChildProcess | null = null;

  /** True once it answers HTTP at all: 403 to an unsigned request is fine. */
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
    if (useSidecar) await mkdir(sidecarDir, { recursive: true });
    // Global flags go before the backend's name, the backend's own after it.
    const args = ['--port', `127.0.0.1:${port}`, '--quiet', 'posix'];
    if (useSidecar) args.push('--sidecar', sidecarDir);
    args.push(dataDir);
    const proc = guardedSpawn(executable, args, {
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
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (hasExited(proc)) {
        // The guard's shell says 127 for a command it cannot find or run.
        if (proc.exitCode === 127)
          throw new Error(
            `cannot run versitygw (${executable}); ./tapedeck installs it into .tools/bin`,
          );
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
    await signalGroup(proc.pid, 'SIGKILL');
    throw new Error(`versitygw did not answer on ${endpoint} within ${timeoutMs} ms:\n${output}`);
  };

  const stop = async () => {
    const pid = child?.pid;
    child = null;
    await signalGroup(pid, 'SIGTERM', { killAfterMs: 5000 });
  };

  await launch();
  const s3 = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: o.bucket }));
  } catch (err) {
    await stop();
    throw err;
  } finally {
    s3.destroy();
  }
  return {
    endpoint,
    port,
    bucket: o.bucket,
    region,
    accessKeyId,
    secretAccessKey,
    dataDir,
    get pid() {
      return child?.pid;
    },
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: region,
    },
    async kill() {
      const pid = child?.pid;
      child = null;
      await signalGroup(pid, 'SIGKILL');
    },
    start: launch,
    stop,
  };
}
