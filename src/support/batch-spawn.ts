import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * Niceness of batch work the node starts beside itself (scoring's decodes). Such a
 * child shares the node's scheduling group (its session's autogroup), and the node's ingest thread,
 * which must read every host's packets as they come, should win against it when the cores are busy.
 */
export const BATCH_NICENESS = 10;

/** spawn(), with the command and every thread it starts at BATCH_NICENESS. */
export function batchSpawn(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  return spawn('nice', ['-n', String(BATCH_NICENESS), command, ...args], options);
}
