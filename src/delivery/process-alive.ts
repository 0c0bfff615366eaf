import { readFile } from 'node:fs/promises';

/** Is `pid` a live process whose command line contains `marker`? (pids get reused) */
export async function processAlive(pid: number, marker: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // A zombie has finished writing; only its parent has not collected it yet.
    if (/^\d+ \(.*\) Z /.test(stat)) return false;
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}
