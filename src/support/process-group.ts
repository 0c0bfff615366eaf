import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** setup.sh builds the Go tools into .tools/bin; elsewhere they are on PATH. */
export function tool(name: string): string {
  const local = join(ROOT, '.tools', 'bin', name);
  return existsSync(local) ? local : name;
}

/** A server a test or benchmark runs, that can crash (kill) and come back on the same port and data. */
export interface RestartableServer {
  readonly pid: number | undefined;
  /** SIGKILL to its process group; resolves once it is gone. Its data stays. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it answers. */
  start(): Promise<void>;
  /** An orderly stop (SIGKILL if it takes too long); its data stays. Safe to call twice. */
  stop(): Promise<void>;
}

export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Signals a process group and waits until its leader is gone. With `killAfterMs` a group still
 * there by then gets SIGKILL, so a server that hangs in its shutdown cannot hold its caller up.
 */
export async function signalGroup(
  pid: number | undefined,
  signal: NodeJS.Signals,
  { waitMs = 15_000, killAfterMs }: { waitMs?: number; killAfterMs?: number } = {},
): Promise<void> {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    return;
  }
  const started = Date.now();
  let escalated = false;
  while (!isGone(pid) && Date.now() - started < waitMs) {
    if (!escalated && killAfterMs !== undefined && Date.now() - started >= killAfterMs) {
      escalated = true;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        return;
      }
    }
    await sleep(50);
  }
}
