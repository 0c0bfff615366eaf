import { warmUpPipelines } from '../pipeline/warm-up.ts';
import type { GstModule } from './gst.ts';

/**
 * Loads what a recording will need (see warmUpPipelines) before there is one. A description that
 * does not parse (a plugin missing) is skipped: the recording that needs it reports that itself.
 */
export async function warmUp(Gst: GstModule, timeoutMs = 3_000): Promise<{ ms: number }> {
  const started = performance.now();
  const { parseOnly, run } = warmUpPipelines();
  for (const description of parseOnly) {
    try {
      Gst.parseLaunch(description).setState(Gst.State.NULL);
    } catch {
      // skipped, as said above
    }
  }
  const pipeline = Gst.parseLaunch(run);
  const bus = pipeline.getBus();
  bus.addSignalWatch();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    bus.on('message', (m) => {
      if (m.type === Gst.MessageType.EOS || m.type === Gst.MessageType.ERROR) done();
    });
    if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) done();
  });
  pipeline.setState(Gst.State.NULL);
  bus.removeSignalWatch();
  return { ms: Math.round(performance.now() - started) };
}
