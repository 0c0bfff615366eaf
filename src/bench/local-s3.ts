import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3Server } from './soak/servers.ts';

export interface LocalS3 {
  /** s3://BUCKET/PREFIX for --store. */
  url: string;
  /** The environment an S3 store needs to reach it. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** A private versitygw on loopback with one bucket, for benchmarks that need a real S3 server. */
export async function startLocalS3(): Promise<LocalS3> {
  const work = await mkdtemp(join(tmpdir(), 'tapedeck-s3-'));
  const server = await startS3Server(work, { bucket: 'bench', prefix: 'availability' }).catch(
    async (err: unknown) => {
      await rm(work, { recursive: true, force: true });
      throw err;
    },
  );
  return {
    url: server.storeUrl,
    env: server.env,
    async stop() {
      await server.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
}
