import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const SOURCE = fileURLToPath(new URL('./worker/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerEntry {
  file: string;
  execArgv: string[];
}

let chosen: WorkerEntry | null = null;

function fromSource(): WorkerEntry {
  return { file: SOURCE, execArgv: ['--import', import.meta.resolve('tsx')] };
}

/**
 * The media worker's code as one plain JavaScript file, built from the sources once per process
 * and kept under a name that is the hash of its content, so it can never be stale. Started from
 * it, a worker is ready in about 0.25 s on 0.27 s of CPU; compiled on the fly by tsx it took
 * 0.5 s and 0.75 s. TAPEDECK_WORKER_BUNDLE=0 runs the sources through tsx instead.
 */
export function mediaWorkerEntry(env: NodeJS.ProcessEnv = process.env): WorkerEntry {
  if (chosen) return chosen;
  if (env.TAPEDECK_WORKER_BUNDLE === '0') return (chosen = fromSource());
  try {
    const out = buildSync({
      entryPoints: [SOURCE],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // A native addon: loaded from node_modules at run time, which the bundle's place finds.
      external: ['node-gtk'],
      write: false,
      logLevel: 'silent',
    }).outputFiles[0]!.contents;
    const hash = createHash('sha256').update(out).digest('hex').slice(0, 16);
    // The path keeps `media/worker/main` in the command line: that is how a worker is recognised
    // (a spool's owner, a leftover process).
    const dir = join(ROOT, 'node_modules', '.cache', 'tapedeck', 'media', 'worker');
    const file = join(dir, `main-${hash}.mjs`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, out);
      renameSync(tmp, file);
    }
    chosen = { file, execArgv: [] };
  } catch (err) {
    process.emitWarning(
      `media worker: running from the sources (bundling failed: ${(err as Error).message})`,
    );
    chosen = fromSource();
  }
  return chosen;
}
