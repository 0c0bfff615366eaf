import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { spawnTracked, stopTracked } from './children.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';

/** Built by scripts/setup.sh; VERSITYGW overrides it. */
export const VERSITYGW =
  process.env.VERSITYGW ?? fileURLToPath(new URL('../../.tools/bin/versitygw', import.meta.url));

export interface VersityGwOptions {
  bucket?: string;
  /** Keep metadata in a sidecar folder instead of xattrs (needed where user xattrs are missing). */
  sidecar?: boolean;
  startTimeoutMs?: number;
}

export interface VersityGw {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The posix backend's root: one folder per bucket. */
  dataDir: string;
  /** Kills the server, keeping its data for restart(). Safe to call twice. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** stop(), then remove every file it wrote. */
  close(): Promise<void>;
}

/** True once the server answers HTTP at all (403 to an unsigned request is fine). */
async function answers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** Starts a private versitygw (posix backend) on 127.0.0.1 with one empty bucket. */
export async function startVersityGw(opts: VersityGwOptions = {}): Promise<VersityGw> {
  const workDir = await mkdtemp(join(tmpdir(), 'versitygw-'));
  const dataDir = join(workDir, 'data');
  const sidecarDir = join(workDir, 'sidecar'); // must be outside the data root
  await mkdir(dataDir);
  const port = await freeTcpPort();
  const accessKeyId = `test${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(16).toString('hex');
  const bucket = opts.bucket ?? 'tapedeck-test';
  const region = 'us-east-1';
  let useSidecar = opts.sidecar ?? false;
  let child: ChildProcess | undefined;

  async function launch(): Promise<void> {
    if (useSidecar) await mkdir(sidecarDir, { recursive: true });
    // Global flags go before the backend name; the backend's own after it.
    const args = ['--port', `127.0.0.1:${port}`, '--quiet', 'posix'];
    if (useSidecar) args.push('--sidecar', sidecarDir);
    args.push(dataDir);
    const proc = spawnTracked(VERSITYGW, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ROOT_ACCESS_KEY_ID: accessKeyId,
        ROOT_SECRET_ACCESS_KEY: secretAccessKey,
      },
    });
    child = proc;
    let output = '';
    const collect = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-8000));
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`cannot run ${VERSITYGW}: ${spawnError.message}`);
      if (proc.exitCode !== null || proc.signalCode !== null) {
        if (!useSidecar && /xattr/i.test(output)) {
          // The filesystem has no user xattrs; versitygw can keep metadata beside it instead.
          useSidecar = true;
          return launch();
        }
        throw new Error(`versitygw exited (${proc.exitCode ?? proc.signalCode}):\n${output}`);
      }
      if (await answers(port)) return;
      await sleep(50);
    }
    await stopTracked(proc, 'SIGKILL');
    throw new Error(`versitygw did not answer on ${port} within the timeout:\n${output}`);
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = undefined;
    if (proc) await stopTracked(proc, 'SIGTERM', 5000);
  }

  try {
    await launch();
    const client = new S3Client({
      region,
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
  } catch (err) {
    await stop();
    await rm(workDir, { recursive: true, force: true });
    throw err;
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    region,
    accessKeyId,
    secretAccessKey,
    dataDir,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async close() {
      await stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
