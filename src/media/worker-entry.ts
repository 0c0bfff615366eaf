import { fileURLToPath } from 'node:url';
import { bundledEntry, type WorkerEntry } from '../support/worker-bundle.ts';

export type { WorkerEntry } from '../support/worker-bundle.ts';

const SOURCE = fileURLToPath(new URL('./worker/main.ts', import.meta.url));

let chosen: WorkerEntry | null = null;

/** The media worker's entry: its bundle's path keeps `media/worker/main` in the command line. */
export function mediaWorkerEntry(env: NodeJS.ProcessEnv = process.env): WorkerEntry {
  if (chosen) return chosen;
  return (chosen = bundledEntry(SOURCE, 'media/worker', env));
}
