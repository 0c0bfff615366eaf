import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { spawnTracked, stopTracked } from './children.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';

// Path from `dpkg -L libnginx-mod-rtmp` on Debian 12.
export const RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

export interface RtmpServerOptions {
  /** Holds nginx.conf, pid, logs and the recordings; must be writable. */
  workDir: string;
  /** Stream key in the publish URL; nginx-rtmp records it as `<stream>.flv`. */
  stream?: string;
  /** How long to wait for nginx to accept TCP. */
  startTimeoutMs?: number;
}

export interface RtmpServer {
  /** rtmp://127.0.0.1:PORT/live/STREAM */
  url: string;
  port: number;
  recordDir: string;
  /** Graceful shutdown (finalises recordings), SIGKILL if it hangs. */
  stop(): Promise<void>;
  /** Absolute paths of files in recordDir, sorted. */
  recordedFiles(): string[];
}

function nginxConf(workDir: string, port: number, recordDir: string): string {
  // daemon/master_process off keep nginx a single foreground process that
  // spawnTracked can own; every path is inside workDir so runs never collide.
  return `load_module ${RTMP_MODULE};
daemon off;
master_process off;
worker_processes 1;
pid ${join(workDir, 'nginx.pid')};
error_log ${join(workDir, 'error.log')} info;

events {
  worker_connections 64;
}

rtmp {
  server {
    listen 127.0.0.1:${port};
    application live {
      live on;
      record all;
      record_path ${recordDir};
      record_unique off;
    }
  }
}
`;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function waitForPort(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}) before listening`);
    }
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`nginx did not accept connections on ${port} within ${timeoutMs} ms`);
}

/** Starts a private nginx-rtmp that records every stream published to `live`. */
export async function startRtmpServer(opts: RtmpServerOptions): Promise<RtmpServer> {
  const workDir = resolve(opts.workDir);
  const stream = opts.stream ?? 'test';
  const recordDir = join(workDir, 'record');
  await mkdir(recordDir, { recursive: true });
  const port = await freeTcpPort();
  const confPath = join(workDir, 'nginx.conf');
  await writeFile(confPath, nginxConf(workDir, port, recordDir));

  // -e: the compiled-in /var/log/nginx/error.log is opened before the config is read.
  const child = spawnTracked(
    'nginx',
    ['-c', confPath, '-p', `${workDir}/`, '-e', join(workDir, 'error.log')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));

  try {
    await Promise.race([waitForPort(child, port, opts.startTimeoutMs ?? 10_000), spawnError]);
  } catch (err) {
    await stopTracked(child, 'SIGKILL');
    const log = await readFile(join(workDir, 'error.log'), 'utf8').catch(() => '');
    throw new Error(`${(err as Error).message}\n${stderr}${log}`);
  }

  return {
    url: `rtmp://127.0.0.1:${port}/live/${stream}`,
    port,
    recordDir,
    async stop() {
      // SIGQUIT is nginx's graceful shutdown; stopTracked escalates if needed.
      await stopTracked(child, 'SIGQUIT', 5000);
    },
    recordedFiles() {
      return readdirSync(recordDir)
        .sort()
        .map((name) => join(recordDir, name));
    },
  };
}
