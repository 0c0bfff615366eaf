import { Worker } from 'node:worker_threads';

/*
 * Runs in a thread of its own: the main thread can be stuck inside GStreamer (an EOS sent into a
 * pipeline whose streaming thread hangs never returns), and then neither the IPC 'disconnect'
 * handler nor any timer of it runs. A worker left behind by a dead parent keeps its parent's
 * stdout open, which holds up whoever waits for that output (a test runner, a service manager).
 * The thread's code uses globals only, so it runs whether eval code is taken as CommonJS or as a
 * module.
 */
function watchdogSource(parentPid: number, pid: number, graceMs: number): string {
  return `
let doomed = false;
setInterval(() => {
  if (doomed || process.ppid === ${parentPid}) return;
  doomed = true;
  setTimeout(() => process.kill(${pid}, 'SIGKILL'), ${graceMs});
}, 1000);
`;
}

/**
 * Kills this process graceMs after its parent is gone. The grace leaves the usual way out (finish
 * the open snippet on 'disconnect', then exit) time to work.
 */
export function killWhenOrphaned(graceMs: number): void {
  const worker = new Worker(watchdogSource(process.ppid, process.pid, Math.round(graceMs)), {
    eval: true,
  });
  worker.unref();
}
