import { spawn } from 'node:child_process';

/*
 * Runs outside this process's JavaScript: the main thread can be stuck inside GStreamer (an EOS
 * sent into a pipeline whose streaming thread hangs never returns), and then neither the IPC
 * 'disconnect' handler nor any timer of it runs. A worker left behind by a dead parent keeps its
 * parent's stdout open, which holds up whoever waits for that output (a test runner, a service
 * manager).
 *
 * A small perl process (perl-base is part of every Debian system) does the watching. It sleeps
 * on two pidfds (Linux 5.3+), the worker's parent's and the worker's, until one of them ends: a
 * poll once a second cost each worker, spare or recording, 0.15 ms of CPU a second (1.5 % of an
 * MP3 recording's CPU). Once the parent is gone it waits out the grace and kills the worker, and
 * only while the worker is still its own parent, so a pid used again by another process is never
 * hit; it leaves as soon as the worker is gone. Without pidfds it looks once a second, as before.
 * A worker thread did this once, at 30-45 ms of CPU and about 10 MiB per worker; this costs a
 * few milliseconds once and about 5 MiB.
 */
const WATCH = `
my ($worker, $parent, $grace) = @ARGV;
sub parent_of_worker {
  open(my $stat, '<', "/proc/$worker/stat") or return -1;
  my $line = <$stat>;
  close $stat;
  return $line =~ /.*\\) \\S+ (\\d+)/ ? $1 : -1;
}
sub orphaned {
  select(undef, undef, undef, $grace / 1000);
  kill 'KILL', $worker if getppid() == $worker;
  exit 0;
}
# Leaves when the worker is gone; waits out the grace and kills it when its parent changed.
sub look {
  my $now = parent_of_worker();
  exit 0 if $now < 0;
  orphaned() if $now != $parent;
}
# pidfd_open is syscall 434 on every architecture.
my $parent_fd = syscall(434, $parent + 0, 0);
my $worker_fd = syscall(434, $worker + 0, 0);
if ($parent_fd >= 0 && $worker_fd >= 0) {
  # Opened after the parent may have gone: only a parent still in place is the one watched.
  look();
  my $watched = '';
  vec($watched, $parent_fd, 1) = 1;
  vec($watched, $worker_fd, 1) = 1;
  while (1) {
    my $ready = $watched;
    next if select($ready, undef, undef, undef) <= 0;
    exit 0 if vec($ready, $worker_fd, 1) || getppid() != $worker;
    orphaned();
  }
}
while (getppid() == $worker) {
  sleep 1;
  look();
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
