/*
 * Media worker process: runs one recording's GStreamer pipeline and talks to its parent over the
 * Node IPC channel. A crash here costs this recording only; the parent sees the process die.
 */
import { spawn } from 'node:child_process';
import { loadGst, runMainLoop } from './gst.ts';
import { killWhenOrphaned } from './orphan-watchdog.ts';
import type { RequestMessage, WorkerEvent, WorkerMessage } from './protocol.ts';
import { MEDIA_NICENESS, yieldToNode } from '../../support/yield-to-node.ts';
import { Recording } from './recording.ts';
import { warmUp } from './warm-up.ts';

if (!process.send) {
  console.error('the media worker runs as a child of tapedeck (it needs an IPC channel)');
  process.exit(2);
}

yieldToNode(MEDIA_NICENESS.starting);
// Longer than the stop below is given, so a worker that can still finish its snippet does.
killWhenOrphaned(20_000);
const { Gst, GLib } = loadGst();
const send = (message: WorkerMessage): void => {
  if (process.connected) process.send!(message);
};
const emit = (event: WorkerEvent): void => send(event);

let recording: Recording | undefined;
let stopping: Promise<unknown> | undefined;

/**
 * Ends this process from outside if a stop never finishes. Sending EOS into a pipeline whose
 * streaming thread is stuck (seen after a stream error) blocks the JavaScript thread inside
 * GStreamer for good, so no timer of ours would ever run again and the worker would outlive its
 * parent. A detached shell kills it instead, after checking the pid is still a media worker. What
 * is on disk stays: the next start-up recovers the open snippet.
 */
function stopWithin(timeoutMs: number, stop: () => Promise<unknown>): Promise<unknown> {
  const seconds = Math.ceil(timeoutMs / 1000) + 5;
  const pid = process.pid;
  const guard = spawn(
    'sh',
    [
      '-c',
      `sleep ${seconds}; grep -q media/worker /proc/${pid}/cmdline 2>/dev/null && kill -9 ${pid}`,
    ],
    { detached: true, stdio: 'ignore' },
  );
  guard.unref();
  process.once('exit', () => guard.kill('SIGKILL'));
  return stop();
}

async function handle(request: RequestMessage): Promise<unknown> {
  if (request.method === 'start') {
    if (recording) throw new Error('this worker already runs a recording');
    recording = new Recording(Gst, request.params.spec, request.params.startIndex, emit);
    const started = await recording.start();
    yieldToNode(MEDIA_NICENESS.running);
    return started;
  }
  if (request.method === 'warmUp') {
    if (recording) throw new Error('warm-up comes before a recording starts');
    return warmUp(Gst);
  }
  if (!recording) throw new Error(`cannot ${request.method}: no recording has started`);
  switch (request.method) {
    case 'stop': {
      const r = recording;
      stopping ??= stopWithin(request.params.timeoutMs, () => r.stop(request.params.timeoutMs));
      return stopping;
    }
    case 'addInput':
      recording.addInput(request.params.input);
      break;
    case 'removeInput':
      recording.removeInput(request.params.id);
      break;
    case 'setCamera':
      recording.setCamera(request.params.id, request.params.on);
      break;
    case 'setLayout':
      recording.setLayout(request.params.order);
      break;
    case 'stats':
      return recording.stats();
  }
  return { runningTimeNs: recording.runningTimeNs().toString() };
}

const debug = process.env.TAPEDECK_DEBUG
  ? (...a: unknown[]) => console.error('[worker]', ...a)
  : () => undefined;

process.on('message', (raw) => {
  const request = raw as RequestMessage;
  debug('request', request.id, request.method);
  handle(request).then(
    (result) => send({ id: request.id, ok: true, result: result ?? {} }),
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      send({ id: request.id, ok: false, error: { name: e.name, message: e.message } });
    },
  );
});

// Without a parent nobody collects the snippets; finish the open one cleanly and leave.
process.on('disconnect', () => {
  const r = recording;
  const done = r ? (stopping ??= stopWithin(10_000, () => r.stop(10_000))) : Promise.resolve();
  void done.finally(() => process.exit(0));
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    const r = recording;
    const done = r ? (stopping ??= stopWithin(10_000, () => r.stop(10_000))) : Promise.resolve();
    void done.finally(() => process.exit(0));
  });
}

emit({ event: 'ready', data: { pid: process.pid } });
runMainLoop(GLib);
