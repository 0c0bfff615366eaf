import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunOptions, type RunResult } from './run.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TAPEDECK = join(ROOT, 'tapedeck');

/** Runs the real CLI, as a user would. */
export function tapedeck(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(TAPEDECK, args, opts);
}

export function lastJsonLine<T>(stdout: string): T {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`last line of output is not JSON: ${line.slice(0, 200)}`);
  }
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tapedeck-${prefix}-`));
}

/** Snippet files `tapedeck record --out DIR` delivered to its default file store, in key order. */
export async function storedSnippets(
  out: string,
  track: string,
  variant: 'mp4' | 'mp3',
  livestream = 'local',
): Promise<string[]> {
  const dir = join(out, 'store', livestream, track, variant);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => !n.startsWith('.'))
    .sort()
    .map((n) => join(dir, n));
}

/** Snippet files still being written in the spool of `tapedeck record --out DIR`. */
export async function spoolFiles(
  out: string,
  recordingId: string,
  livestream = 'local',
): Promise<string[]> {
  const names = await readdir(join(out, 'spool', livestream, recordingId)).catch(
    () => [] as string[],
  );
  return names.filter((n) => /_\d{6}\.mp[34]$/.test(n));
}
