import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVersityGw as launch } from '../../src/support/versitygw.ts';

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
  /** Stops the server, keeping its data for restart(). Safe to call twice. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** stop(), then remove every file it wrote. */
  close(): Promise<void>;
}

/** A private versitygw in a temporary folder, with one empty bucket. */
export async function startVersityGw(opts: VersityGwOptions = {}): Promise<VersityGw> {
  const workDir = await mkdtemp(join(tmpdir(), 'versitygw-'));
  const gw = await launch({
    dir: workDir,
    bucket: opts.bucket ?? 'tapedeck-test',
    ...(opts.sidecar !== undefined && { sidecar: opts.sidecar }),
    ...(opts.startTimeoutMs !== undefined && { startTimeoutMs: opts.startTimeoutMs }),
  }).catch(async (err: unknown) => {
    await rm(workDir, { recursive: true, force: true });
    throw err;
  });
  return {
    endpoint: gw.endpoint,
    port: gw.port,
    bucket: gw.bucket,
    region: gw.region,
    accessKeyId: gw.accessKeyId,
    secretAccessKey: gw.secretAccessKey,
    dataDir: gw.dataDir,
    stop: () => gw.stop(),
    async restart() {
      await gw.stop();
      await gw.start();
    },
    async close() {
      await gw.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
