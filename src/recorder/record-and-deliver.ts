import type { Deliverer } from '../delivery/deliverer.ts';
import type { RecordingSpec } from '../media/pipeline/spec.ts';
import {
  type RecordingSummary,
  runSyntheticRecording,
  type SyntheticRecordingOptions,
} from '../media/synthetic-recording.ts';
import { sessionFor } from './session.ts';

export interface RecordAndDeliverOptions extends Omit<
  SyntheticRecordingOptions,
  'spec' | 'startIndex' | 'onStarted'
> {
  livestreamId: string;
  /** The recording; its snippets go to the deliverer's spool folder for it. */
  spec: Omit<RecordingSpec, 'outDir'>;
  deliverer: Deliverer;
  /** Lowest first snippet number (e.g. from a workflow's heartbeat); the journal may raise it. */
  minStartIndex?: number;
}

/**
 * Records into the spool and hands every snippet to the deliverer as the pipeline reports it.
 * Returns when the recording has ended and everything it produced is in the store and the outbox.
 */
export async function recordAndDeliver(
  options: RecordAndDeliverOptions,
): Promise<RecordingSummary> {
  const { deliverer, livestreamId } = options;
  const session = sessionFor(livestreamId, options.spec);
  const { dir, startIndex } = await deliverer.openRecording(session, options.minStartIndex ?? 0);
  const spec: RecordingSpec = { ...options.spec, outDir: dir };
  const journalWrites: Promise<void>[] = [];
  const track = (p: Promise<void>) => {
    journalWrites.push(p);
    p.catch((err: Error) =>
      options.onEvent?.({
        event: 'warning',
        data: { source: 'spool journal', message: err.message },
      }),
    );
  };
  try {
    return await runSyntheticRecording({
      ...options,
      spec,
      startIndex,
      onStarted: ({ pid }) => track(deliverer.workerStarted(dir, pid)),
      onEvent: (event) => {
        if (event.event === 'snippet-opened') track(deliverer.snippetOpened(dir, event.data));
        else if (event.event === 'snippet-closed') track(deliverer.snippetClosed(dir, event.data));
        options.onEvent?.(event);
      },
    });
  } finally {
    await Promise.allSettled(journalWrites);
    await deliverer.endRecording(dir);
  }
}
