import { fileURLToPath } from 'node:url';
import { bundledEntry, type WorkerEntry } from '../support/worker-bundle.ts';

const SOURCE = fileURLToPath(new URL('./decoder/main.ts', import.meta.url));

let chosen: WorkerEntry | null = null;

/** The shared decoder's entry: its bundle's path keeps `media/decoder` in the command line. */
export function decoderEntry(env: NodeJS.ProcessEnv = process.env): WorkerEntry {
  if (chosen) return chosen;
  return (chosen = bundledEntry(SOURCE, 'media/decoder', env));
}
