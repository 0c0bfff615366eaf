import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

// Runs the command in the background and ends it when this process is gone: a crashed or
// SIGKILLed owner leaves no server or publisher behind. `exec` is not possible here, because the
// shell has to stay to watch; it forwards TERM and INT and exits with the command's status. A
// background command's stdin would be /dev/null, so it gets the shell's through fd 3.
const GUARD = `
exec 3<&0
"$@" 0<&3 3<&- &
child=$!
trap 'kill -TERM $child 2>/dev/null' TERM INT
while kill -0 $child 2>/dev/null; do
  if ! kill -0 $OWNER 2>/dev/null; then kill -TERM $child 2>/dev/null; sleep 5; kill -KILL $child 2>/dev/null; fi
  sleep 1 & wait $!
done
wait $child
`;

/**
 * spawn(), in its own process group, with a guard that stops the command once this process is
 * gone. Signal the group (process.kill(-pid, …)) to reach the command itself.
 */
export function guardedSpawn(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  return spawn('/bin/sh', ['-c', GUARD, 'guard', command, ...args], {
    ...options,
    env: { ...(options.env ?? process.env), OWNER: String(process.pid) },
    detached: true,
  });
}
