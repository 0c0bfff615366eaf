import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { launchArgs } from './pipeline/quote.ts';
import { sharedDecoderPipeline, type SharedDecoderSpec } from './pipeline/shared-decoder.ts';

/*
 * The decoder runs under a small perl guard (perl-base is on every Debian system): it starts
 * gst-launch as its child, says the child's pid, passes TERM and INT on, and kills the child
 * once its own parent, the node, is gone. A node killed with -9 so leaves no decoder behind
 * holding its stdout, as the media workers' orphan watchdog does for them.
 */
const GUARD = `
use POSIX ":sys_wait_h";
my $parent = getppid();
my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0) { exec @ARGV; exit 127; }
$| = 1;
print "$pid\\n";
for my $sig (qw(TERM INT)) { $SIG{$sig} = sub { kill $sig, $pid; }; }
while (1) {
  my $r = waitpid($pid, WNOHANG);
  if ($r == $pid) { my $s = $?; exit(($s & 127) ? 128 + ($s & 127) : ($s >> 8)); }
  if (getppid() != $parent) { kill 'KILL', $pid; waitpid($pid, 0); exit 1; }
  select(undef, undef, undef, 0.25);
}
`;

/** Pauses before each restart after an unexpected exit; a decoder that ran a minute starts over. */
const RESTART_MS = [250, 1000, 2000, 5000];
const STEADY_MS = 60_000;
const READY_TIMEOUT_MS = 5000;

export interface SharedDecoderEvents {
  /** A decoder process runs and its socket is there. */
  started: [{ pid: number }];
  /** It exited without being asked to; it starts again after `restartInMs`. */
  exited: [
    { code: number | null; signal: NodeJS.Signals | null; restartInMs: number; stderr: string },
  ];
}

/**
 * One host's shared decoder: a gst-launch process that decodes the host's video RTP once and
 * puts the frames in shared memory. It is started again whenever it exits unasked; its readers
 * take the gap as a lost picture and attach again once the socket is back.
 */
export class SharedDecoder extends EventEmitter<SharedDecoderEvents> {
  private child: ChildProcess | null = null;
  private decoderPid: number | null = null;
  private stopping = false;
  private failures = 0;
  private restart: NodeJS.Timeout | undefined;
  /** Decoder processes started so far, the first included. */
  starts = 0;

  constructor(readonly spec: SharedDecoderSpec) {
    super();
  }

  /** The gst-launch process's pid while one runs. */
  get pid(): number | null {
    return this.decoderPid;
  }

  /** Starts the decoder and waits (a few seconds at most) for its socket. */
  async start(): Promise<void> {
    this.launch();
    await this.ready();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restart);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.spec.socketPath, { force: true });
  }

  private async ready(): Promise<void> {
    const until = Date.now() + READY_TIMEOUT_MS;
    while (!existsSync(this.spec.socketPath) && Date.now() < until && !this.stopping)
      await new Promise((r) => setTimeout(r, 50));
  }

  private launch(): void {
    // A socket left by a decoder killed with -9 would stop the new one from listening.
    rmSync(this.spec.socketPath, { force: true });
    const child = spawn(
      'perl',
      ['-e', GUARD, 'gst-launch-1.0', '-q', ...launchArgs(sharedDecoderPipeline(this.spec))],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.starts += 1;
    const startedAt = Date.now();
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.stdout!.once('data', (chunk: Buffer) => {
      const pid = Number.parseInt(chunk.toString(), 10);
      if (Number.isInteger(pid)) {
        this.decoderPid = pid;
        void this.ready().then(() => {
          if (this.child === child && !this.stopping) this.emit('started', { pid });
        });
      }
    });
    child.on('error', (err) => {
      stderr += `\n${err.message}`;
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.decoderPid = null;
      if (this.stopping) return;
      if (Date.now() - startedAt > STEADY_MS) this.failures = 0;
      const restartInMs = RESTART_MS[Math.min(this.failures, RESTART_MS.length - 1)]!;
      this.failures += 1;
      this.emit('exited', { code, signal, restartInMs, stderr: stderr.trim() });
      this.restart = setTimeout(() => {
        if (!this.stopping) this.launch();
      }, restartInMs);
    });
  }
}
