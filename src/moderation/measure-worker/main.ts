/*
 * Measuring process: runs scoring's decode pipelines one after another, with GStreamer and its
 * plugins loaded once. A gst-launch per snippet spent about 0.1 s of CPU on loading libav alone,
 * a third of measuring a 15-s snippet. A decoder that crashes costs this process and the snippet
 * it was on; the parent starts another for the next.
 */
import type { GstMessage, GstPipeline } from '../../media/worker/gst.ts';
import { loadGst, onBusMessages, runMainLoop } from '../../media/worker/gst.ts';
import { killWhenOrphaned } from '../../media/worker/orphan-watchdog.ts';
import type { MeasureReady, MeasureReply, MeasureRequest } from './protocol.ts';

if (!process.send) {
  console.error('the measuring process runs as a child of tapedeck (it needs an IPC channel)');
  process.exit(2);
}

killWhenOrphaned(2_000);
const { Gst, GLib } = loadGst();
const send = (message: MeasureReply | MeasureReady): void => {
  if (process.connected) process.send!(message);
};

function run(description: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const pipeline: GstPipeline = Gst.parseLaunch(description);
    const bus = pipeline.getBus();
    bus.addSignalWatch();
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      bus.removeSignalWatch();
      pipeline.setState(Gst.State.NULL);
      if (error) reject(error);
      else resolve();
    };
    const failed = (m: GstMessage) => {
      const [error, debug] = m.parseError();
      return new Error(`${error.message}${debug ? ` (${debug.split('\n')[0]})` : ''}`);
    };
    onBusMessages(bus, ['eos', 'error', 'warning'], (m: GstMessage) => {
      if (m.type === Gst.MessageType.EOS) finish();
      else if (m.type === Gst.MessageType.ERROR) finish(failed(m));
      else if (m.type === Gst.MessageType.WARNING) {
        // A branch asked for a stream the file does not give (no sound, say): its sink never
        // prerolls, so the pipeline would wait until the timeout.
        const [warning] = m.parseWarning();
        if (
          warning.domain === Gst.parseErrorQuark() &&
          warning.code === Gst.ParseError.DELAYED_LINK
        )
          finish(new Error(`${warning.message} (the file lacks a stream the decode needs)`));
      }
    });
    if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) {
      // The element that refused said why on the bus, before the watch could hand it over.
      const m = bus.timedPopFiltered(0, Gst.MessageType.ERROR);
      finish(m ? failed(m) : new Error('the pipeline did not start'));
    }
  });
}

// One at a time: the parent queues, and the CPU figure of each is then its own.
let busy: Promise<void> = Promise.resolve();
process.on('message', (raw) => {
  const request = raw as MeasureRequest;
  busy = busy.then(async () => {
    const before = process.cpuUsage();
    try {
      await run(request.pipeline);
      const used = process.cpuUsage(before);
      send({ id: request.id, ok: true, cpuSec: (used.user + used.system) / 1e6 });
    } catch (err) {
      send({ id: request.id, ok: false, error: (err as Error).message });
    }
  });
});
process.on('disconnect', () => process.exit(0));

send({ ready: true, pid: process.pid });
runMainLoop(GLib);
