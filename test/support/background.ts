import type { ChildProcess } from 'node:child_process';
import { spawnTracked, stopTracked } from './children.ts';
import type { RunResult } from './run.ts';
import { TAPEDECK } from './tapedeck.ts';

export interface Background {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its output is drained. */
  done: Promise<RunResult>;
  /** Resolves when stderr or stdout shows `pattern`; rejects if the process ends first or after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the real CLI without waiting for it, for tests that act while it runs. */
export function tapedeckInBackground(args: string[], env?: NodeJS.ProcessEnv): Background {
  const child = spawnTracked(TAPEDECK, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    listeners.forEach((l) => l());
  });
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    listeners.forEach((l) => l());
  });
  const done = new Promise<RunResult>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out) || pattern.test(err)) {
            cleanup();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; stderr:\n${err.slice(-2000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void done.then(() => {
          if (!listeners.has(check)) return;
          cleanup();
          reject(new Error(`the command ended before ${pattern}; stderr:\n${err.slice(-2000)}`));
        });
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      await stopTracked(child, signal, 30_000);
    },
  };
}
