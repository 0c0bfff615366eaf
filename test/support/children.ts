import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * Child processes started by tests. Each runs in its own process group
 * (detached), so the group can be killed as a whole: tools like gst-launch or
 * `timeout` may fork helpers that would otherwise outlive a failed test.
 */
const tracked = new Set<ChildProcess>();
let hooksInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone, which is what we wanted.
  }
}

/** SIGKILLs every tracked process group that is still registered. */
export function killAllTracked(): void {
  for (const child of tracked) killGroup(child, 'SIGKILL');
  tracked.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous; process.kill is.
  process.on('exit', killAllTracked);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAllTracked();
      // Detached children do not get the terminal's Ctrl-C, hence the kill
      // above. Having a listener suppresses Node's default "die on signal";
      // restore it unless someone else (e.g. the test harness) handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/**
 * spawn() whose process group is SIGKILLed when this process exits or gets
 * SIGINT/SIGTERM. `detached` is always forced on; the caller still owns the
 * 'error' event (e.g. ENOENT) like with a plain spawn().
 */
export function spawnTracked(
  cmd: string,
  args: readonly string[] = [],
  opts: SpawnOptions = {},
): ChildProcess {
  installHooks();
  const child = spawn(cmd, args, { ...opts, detached: true });
  if (child.pid === undefined) return child; // spawn failed; 'error' follows
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
  return child;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Sends `signal` to the child's process group, waits for the child to exit and
 * escalates to SIGKILL after `timeoutMs`. Leftover group members are killed
 * too, so a leader that exits early cannot orphan its helpers.
 */
export async function stopTracked(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 5000,
): Promise<ExitStatus> {
  if (child.pid === undefined) return { code: child.exitCode, signal: child.signalCode };
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve<ExitStatus>({ code: child.exitCode, signal: child.signalCode })
      : new Promise<ExitStatus>((resolve) => {
          child.once('exit', (code, sig) => resolve({ code, signal: sig }));
        });
  killGroup(child, signal);
  const escalate = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
  try {
    return await exited;
  } finally {
    clearTimeout(escalate);
    killGroup(child, 'SIGKILL');
    tracked.delete(child);
  }
}
