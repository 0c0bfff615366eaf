import { spawn, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';

// Runs the command in the background and ends it when this process is gone: a crashed or
// SIGKILLed owner leaves no server or publisher behind. `exec` is not possible here, because the
// shell has to stay to watch; it forwards TERM and INT and exits with the command's status. A
// background command's stdin would be /dev/null, so it gets the shell's through fd 3.
//
// The owner is watched through fd 4, a pipe whose other end only the owner holds: the kernel
// closes it when the owner dies, however it dies, and the watcher's read returns. Nothing wakes
// before that (a loop of `sleep 1` forked a process a second for as long as the command ran).
const GUARD = `
exec 3<&0
"$@" 0<&3 3<&- 4<&- &
child=$!
exec 3<&-
(read -r _ <&4; kill -TERM $child 2>/dev/null; sleep 5; kill -KILL $child 2>/dev/null) &
watcher=$!
exec 4<&-
trap 'kill -TERM $child 2>/dev/null' TERM INT
wait $child
status=$?
# A trapped signal ends a wait early: wait again until the command is gone.
while kill -0 $child 2>/dev/null; do
  wait $child
  status=$?
done
kill $watcher 2>/dev/null
exit $status
`;

/** The caller's first three streams, then fd 3 closed and fd 4 the pipe the guard watches. */
function withOwnerPipe(stdio: StdioOptions | undefined): StdioOptions {
  const [input = 'pipe', output = 'pipe', error = 'pipe'] =
    stdio === undefined || typeof stdio === 'string' ? Array(3).fill(stdio ?? 'pipe') : stdio;
  return [input, output, error, 'ignore', 'pipe'];
}

/**
 * spawn(), in its own process group, with a guard that stops the command once this process is
 * gone. Signal the group (process.kill(-pid, …)) to reach the command itself.
 */
export function guardedSpawn(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const child = spawn('/bin/sh', ['-c', GUARD, 'guard', command, ...args], {
    ...options,
    stdio: withOwnerPipe(options.stdio),
    detached: true,
  });
  // Held open, never written: it must not keep this process's event loop alive.
  const owner = child.stdio[4] as (NodeJS.WritableStream & { unref?: () => void }) | null;
  owner?.unref?.();
  return child;
}
