import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface LocalS3 {
  /** s3://BUCKET/PREFIX for --store. */
  url: string;
  /** The environment an S3 store needs to reach it. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** A private versitygw on loopback with one bucket, for benchmarks that need a real S3 server. */
export async function startLocalS3(): Promise<LocalS3> {
  const work = await mkdtemp(join(tmpdir(), 'tapedeck-s3-'));
  await mkdir(join(work, 'data'));
  await mkdir(join(work, 'sidecar'));
  const port = await freePort();
  const accessKeyId = `bench${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(16).toString('hex');
  const start = (sidecar: boolean): ChildProcess =>
    spawn(
      'versitygw',
      [
        '--port',
        `127.0.0.1:${port}`,
        '--quiet',
        'posix',
        ...(sidecar ? ['--sidecar', join(work, 'sidecar')] : []),
        join(work, 'data'),
      ],
      {
        stdio: 'ignore',
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          ROOT_ACCESS_KEY_ID: accessKeyId,
          ROOT_SECRET_ACCESS_KEY: secretAccessKey,
        },
      },
    );
  let spawnError: Error | null = null;
  const watch = (c: ChildProcess) => c.once('error', (err) => (spawnError = err));
  let child = start(false);
  watch(child);
  const endpoint = `http://127.0.0.1:${port}`;
  const s3 = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  const deadline = Date.now() + 15_000;
  let triedSidecar = false;
  for (;;) {
    if (child.exitCode !== null && !triedSidecar) {
      // No user xattrs on this filesystem: keep metadata in a sidecar folder instead.
      triedSidecar = true;
      child = start(true);
      watch(child);
    }
    if (spawnError)
      throw new Error(
        `cannot run versitygw (${(spawnError as Error).message}); ./tapedeck installs it into .tools/bin`,
      );
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`versitygw did not start on ${endpoint}: ${(err as Error).message}`);
      }
      await sleep(100);
    }
  }
  s3.destroy();
  return {
    url: 's3://bench/availability',
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: 'us-east-1',
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        child.kill('SIGKILL');
      }
      await rm(work, { recursive: true, force: true });
    },
  };
}
