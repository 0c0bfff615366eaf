import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * V8's memory reducer takes a media process's slow allocation (a look once a second) for
 * idleness and marks the whole heap, a few kilobytes at a time on V8's helper threads, for the
 * first minute: 0.25-0.4 ms of CPU a second of an MP3 recording's 9, for a heap of 7 MiB.
 */
const CHILD_V8_FLAGS = ['--no-memory-reducer'];

const META_URL = '__bundleImportMetaUrl';

export interface WorkerEntry {
  file: string;
  execArgv: string[];
}

/**
 * A child process's code as one plain JavaScript file, built from its TypeScript entry once per
 * process and kept under a name that is the hash of its content, so it can never be stale.
 * Started from it, a GStreamer worker is ready in about 0.25 s on 0.27 s of CPU; compiled on the
 * fly by tsx it took 0.5 s and 0.75 s. TAPEDECK_WORKER_BUNDLE=0 runs the sources through tsx.
 *
 * `cacheDir` is the bundle's folder under node_modules/.cache/tapedeck and ends up in the
 * child's command line, which is how such a process is recognised (a spool's owner, a leftover).
 */
export function bundledEntry(
  source: string,
  cacheDir: string,
  env: NodeJS.ProcessEnv = process.env,
): WorkerEntry {
  const fromSource = {
    file: source,
    execArgv: [...CHILD_V8_FLAGS, '--import', import.meta.resolve('tsx')],
  };
  if (env.TAPEDECK_WORKER_BUNDLE === '0') return fromSource;
  try {
    // The esbuild binary, run once: its JavaScript API's buildSync would leave a worker thread and
    // an esbuild process behind, pinging each other for as long as this process lives.
    const out = execFileSync(
      createRequire(import.meta.url).resolve('esbuild/bin/esbuild'),
      [
        source,
        '--bundle',
        '--platform=node',
        // CommonJS: Node 20 starts an ES module entry on about 10 ms more CPU than a CommonJS one
        // (its module loader), paid by every media process and first of all by an MP3 recording.
        '--format=cjs',
        '--target=node20',
        // The only use of import.meta: finding node_modules from the file's own place.
        `--banner:js=const ${META_URL} = require('node:url').pathToFileURL(__filename).href;`,
        `--define:import.meta.url=${META_URL}`,
        // A native addon: loaded from node_modules at run time, which the bundle's place finds.
        '--external:node-gtk',
        '--log-level=error',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 },
    );
    const hash = createHash('sha256').update(out).digest('hex').slice(0, 16);
    const dir = join(ROOT, 'node_modules', '.cache', 'tapedeck', cacheDir);
    const file = join(dir, `main-${hash}.cjs`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, out);
      renameSync(tmp, file);
    }
    return { file, execArgv: CHILD_V8_FLAGS };
  } catch (err) {
    process.emitWarning(
      `${cacheDir}: running from the sources (bundling failed: ${(err as Error).message})`,
    );
    return fromSource;
  }
}
