import { warmUpPipelines } from '../pipeline/warm-up.ts';
import { collectRemoved } from './collect-removed.ts';
import { type GstModule, onBusMessages } from './gst.ts';

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
  let finish = () => {};
  const ended = new Promise<void>((resolve) => (finish = resolve));
  // Made out here, not in the promise's executor: a handler made in there kept the pipeline's
  // bus, and its socket pair, alive after it was disconnected.
  const onMessage = () => finish();
  bus.addSignalWatch();
  const unwatch = onBusMessages(bus, ['eos', 'error'], onMessage);
  const timer = setTimeout(() => finish(), timeoutMs);
  if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) finish();
  await ended;
  clearTimeout(timer);
  pipeline.setState(Gst.State.NULL);
  unwatch();
  bus.removeSignalWatch();
  // An idle spare allocates nothing, so V8 would keep these pipelines (their buses' socket pairs,
  // their eventfds) until the recording it takes on triggers a collection at some later moment.
  collectRemoved();
  return { ms: Math.round(performance.now() - started) };
}
