import { writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Niceness of a media worker while it starts a recording, and once the recording runs: behind
 * the node either way, and a starting recording ahead of running ones, whose mixers wait for late
 * input while a start holds up a composite's tile of the host.
 */
export const MEDIA_NICENESS = { starting: 5, running: 10 } as const;

/**
 * Puts this process behind the node that started it when the cores are busy. A media worker runs
 * in a session of its own, so Linux schedules it as a group of its own (autogroup) beside the
 * node's: fifteen recordings made fifteen groups with the node's weight each, and on a busy
 * machine the node's ingest, which must read every host's packets as they come, got a sixteenth
 * of it. The group's niceness fixes that where autogroups are on; the process's own covers the
 * rest. Best effort: either may be refused, and nothing else depends on it.
 */
export function yieldToNode(niceness: number): void {
  try {
    writeFileSync('/proc/self/autogroup', String(niceness));
  } catch {
    // No autogroups here (or not ours to change).
  }
  try {
    setPriority(niceness);
  } catch {
    // Already nicer than this.
  }
}
