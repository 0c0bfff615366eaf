import { spawn } from 'node:child_process';

/*
 * Runs outside this process's JavaScript: the main thread can be stuck inside GStreamer (an EOS
 * sent into a pipeline whose streaming thread hangs never returns), and then neither the IPC
 * 'disconnect' handler nor any timer of it runs. A worker left behind by a dead parent keeps its
 * parent's stdout open, which holds up whoever waits for that output (a test runner, a service
 * manager).
 *
 * A small perl process (perl-base is part of every Debian system) does the watching: once a
 * second it reads which process is this worker's parent, and when that is no longer the parent
 * the worker started with, it waits out the grace and kills the worker. It kills only while the
 * worker is still its own parent, so a pid used again by another process is never hit, and it
 * leaves as soon as the worker is gone. A worker thread did the same before, at 30-45 ms of CPU
 * and about 10 MiB per worker; this costs a few milliseconds once and about 5 MiB.
 */
const WATCH = `
my ($worker, $parent, $grace) = @ARGV;
while (getppid() == $worker) {
  sleep 1;
  open(my $stat, '<', "/proc/$worker/stat") or exit 0;
  my $line = <$stat>;
  close $stat;
  $line =~ /.*\\) \\S+ (\\d+)/ or exit 0;
  next if $1 == $parent;
  select(undef, undef, undef, $grace / 1000);
  kill 'KILL', $worker if getppid() == $worker;
  exit 0;
}
`;

/**
 * Kills this process graceMs after its parent is gone. The grace leaves the usual way out (finish
 * the open snippet on 'disconnect', then exit) time to work.
 */
export function killWhenOrphaned(graceMs: number): void {
  const watcher = spawn(
    'perl',
    ['-e', WATCH, String(process.pid), String(process.ppid), String(Math.round(graceMs))],
    // In this process's group: whoever kills the worker's group kills its watcher too.
    { stdio: 'ignore' },
  );
  watcher.on('error', (err) =>
    process.emitWarning(`media worker: no orphan watchdog (${err.message})`),
  );
  watcher.unref();
  process.once('exit', () => watcher.kill('SIGKILL'));
}
