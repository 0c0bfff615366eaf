import type { ChildProcess } from 'node:child_process';

import { spawnTracked, stopTracked } from './children.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';

export const PUBSUB_EMULATOR =
  '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';

export interface PubSubEmulator {
  /** 127.0.0.1:PORT, the value for PUBSUB_EMULATOR_HOST. */
  host: string;
  port: number;
  stop(): Promise<void>;
  /**
   * Starts it again on the same port. The emulator keeps everything in memory, so
   * topics, subscriptions and messages are gone afterwards.
   */
  restart(): Promise<void>;
  /** The same as stop(): the emulator has no folder to remove. */
  dispose(): Promise<void>;
}

async function launch(port: number, timeoutMs: number): Promise<ChildProcess> {
  // The launcher is a shell script that starts java: spawnTracked kills the whole group.
  const child = spawnTracked(PUBSUB_EMULATOR, ['--host=127.0.0.1', `--port=${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      log += chunk.toString('utf8');
      if (log.includes(`Server started, listening on ${port}`)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`Pub/Sub emulator exited (${code ?? signal}) before it was ready\n${log}`)),
    );
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Pub/Sub emulator not ready within ${timeoutMs} ms\n${log}`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    await stopTracked(child, 'SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return child;
}

/** A private Pub/Sub emulator on 127.0.0.1 and a free port (Java: a few seconds to start). */
export async function startPubSubEmulator(
  opts: { startTimeoutMs?: number } = {},
): Promise<PubSubEmulator> {
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const port = await freeTcpPort();
  let child: ChildProcess | null = await launch(port, timeoutMs);
  const stop = async (): Promise<void> => {
    if (child === null) return;
    const c = child;
    child = null;
    await stopTracked(c, 'SIGTERM', 5_000);
  };
  return {
    host: `127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      child = await launch(port, timeoutMs);
    },
    dispose: stop,
  };
}
