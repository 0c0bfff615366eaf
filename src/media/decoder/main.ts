/*
 * Shared decoder process: decodes one host's video RTP once and serves the frames, with their
 * timestamps, on a loopback port to every recording of the host on the node. It runs on the wall
 * clock with a base time of 0, so a frame's timestamp is the wall-clock time the jitter buffer gave
 * it: a reader maps it onto its own running time by subtracting its own base time, and the
 * picture keeps the timing a recording's own decode would give it, whatever the load.
 * Usage (as tapedeck starts it): node main.cjs SPEC-JSON
 */
import { sharedDecoderPipeline, type SharedDecoderSpec } from '../pipeline/shared-decoder.ts';
import { loadGst, onBusMessages, runMainLoop } from '../worker/gst.ts';
import { killWhenOrphaned } from '../worker/orphan-watchdog.ts';

const spec = JSON.parse(process.argv[2] ?? 'null') as SharedDecoderSpec | null;
if (!spec?.framesPort) {
  console.error('the shared decoder runs as a child of tapedeck: node main.cjs SPEC-JSON');
  process.exit(2);
}

killWhenOrphaned(2_000);
const { Gst, GLib } = loadGst();
const pipeline = Gst.parseLaunch(sharedDecoderPipeline(spec));
const clock = Gst.SystemClock.obtain();
clock.clockType = Gst.ClockType.REALTIME;
pipeline.useClock(clock);
// GST_CLOCK_TIME_NONE: the pipeline keeps the base time it is given.
pipeline.setStartTime(0xffffffffffffffffn);
pipeline.setBaseTime(0);

const bus = pipeline.getBus();
bus.addSignalWatch();
onBusMessages(bus, ['error', 'eos'], (message) => {
  if (message.type === Gst.MessageType.ERROR) {
    const [error, debug] = message.parseError();
    console.error(`shared decoder: ${error.message} (${debug})`);
    pipeline.setState(Gst.State.NULL);
    process.exit(1);
  }
  if (message.type === Gst.MessageType.EOS) {
    pipeline.setState(Gst.State.NULL);
    process.exit(0);
  }
});
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    pipeline.setState(Gst.State.NULL);
    process.exit(0);
  });
if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) {
  console.error('shared decoder: the pipeline refused to play');
  process.exit(1);
}

runMainLoop(GLib);
