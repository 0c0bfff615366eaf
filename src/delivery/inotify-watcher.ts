import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';

export interface FileDone {
  /** Absolute path of the file. */
  path: string;
  /** close-write: a writer closed it; moved-to: it was renamed into the folder, whole. */
  how: 'close-write' | 'moved-to';
}

export interface WatcherEvents {
  done: [FileDone];
  error: [Error];
}

/**
 * inotifywait under a small shell that ends it when our stdin closes, which also happens when this
 * process dies without cleaning up (kill -9): a watcher never outlives its owner.
 */
const GUARDED = [
  'command -v inotifywait >/dev/null 2>&1 || { echo "inotifywait: not found" >&2; exit 127; }',
  'exec 3<&0',
  'inotifywait "$@" & w=$!',
  '{ read _ <&3; kill $w 2>/dev/null; } &',
  'wait $w',
].join('\n');

export class WatcherError extends Error {
  override name = 'WatcherError';
}

/**
 * inotify close-write and moved-to events for a folder tree, from inotifywait (inotify-tools).
 * Node's fs.watch reports only "change" and "rename", which cannot tell a file that is complete
 * from one that is still being written; close-write can.
 */
export class InotifyWatcher extends EventEmitter<WatcherEvents> {
  private child: ChildProcess | null = null;
  private closing = false;

  constructor(private readonly root: string) {
    super();
  }

  /** Resolves once inotify watches are in place, so no later close is missed. */
  start(): Promise<void> {
    const child = spawn(
      'sh',
      [
        '-c',
        GUARDED,
        'sh',
        '--monitor',
        '--recursive',
        '--event',
        'close_write',
        '--event',
        'moved_to',
        '--format',
        '%e|%w%f',
        this.root,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child = child;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const bar = line.indexOf('|');
      if (bar < 0) return;
      const events = line.slice(0, bar).split(',');
      if (events.includes('ISDIR')) return;
      const how = events.includes('MOVED_TO') ? 'moved-to' : 'close-write';
      this.emit('done', { path: line.slice(bar + 1), how });
    });
    return new Promise((resolve, reject) => {
      let stderr = '';
      let ready = false;
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (!ready && stderr.includes('Watches established')) {
          ready = true;
          resolve();
        }
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        const error =
          err.code === 'ENOENT'
            ? new WatcherError(
                'inotifywait is not installed (Debian package inotify-tools); run ./tapedeck setup',
              )
            : new WatcherError(`cannot watch ${this.root}: ${err.message}`);
        if (!ready) reject(error);
        else this.emit('error', error);
      });
      child.once('exit', (code, signal) => {
        if (this.closing) return;
        if (code === 127 && stderr.includes('inotifywait: not found')) {
          const missing = new WatcherError(
            'inotifywait is not installed (Debian package inotify-tools); run ./tapedeck setup',
          );
          if (!ready) reject(missing);
          else this.emit('error', missing);
          return;
        }
        const error = new WatcherError(
          `inotifywait stopped (${signal ?? `exit code ${code}`}): ${stderr.trim().split('\n').at(-1) ?? ''}`,
        );
        if (!ready) reject(error);
        else this.emit('error', error);
      });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.stdin?.end();
    });
  }
}
