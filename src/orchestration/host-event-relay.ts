import type { HostEvent } from '../domain/host-presence.ts';
import { changesHostView } from '../domain/recording-plan.ts';
import type { LiveIngest, IngestHostEvent } from '../ingest/live-ingest.ts';

export interface HostEventSink {
  /** Rejects with LivestreamGoneError when nothing will ever take the livestream's events. */
  hostEvent(livestreamId: string, event: HostEvent): Promise<void>;
}

/**
 * The livestream has no workflow running: it never had one (a livestream opened at the ingest
 * alone), or it finished or was terminated. Trying again cannot help.
 */
export class LivestreamGoneError extends Error {
  override name = 'LivestreamGoneError';
}

/**
 * Passes the ingest's host events to the livestream workflows in order, per livestream, and keeps
 * retrying while Temporal is unreachable. An event is dropped only when its livestream's workflow
 * is gone; until then the livestream's later events wait behind it, and the other livestreams'
 * do not.
 */
export function relayHostEvents(
  ingest: LiveIngest,
  sink: HostEventSink,
  onWarning: (message: string) => void,
): {
  stop(): void;
  /** Resolves once the events so far are delivered: one livestream's, or every livestream's. */
  idle(livestreamId?: string): Promise<void>;
  busyLivestreams(): number;
} {
  const queues = new Map<string, Promise<void>>();
  let stopped = false;
  const send = async (e: IngestHostEvent): Promise<void> => {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        await sink.hostEvent(e.livestreamId, e.event);
        return;
      } catch (err) {
        if (err instanceof LivestreamGoneError) {
          onWarning(
            `host event ${e.event.type} of ${e.livestreamId}/${e.event.hostId} dropped: ${err.message}`,
          );
          return;
        }
        if (attempt === 1 || attempt % 10 === 0)
          onWarning(
            `host event ${e.event.type} of ${e.livestreamId}/${e.event.hostId} not delivered yet: ${(err as Error).message}`,
          );
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * attempt)));
      }
    }
  };
  const listener = (e: IngestHostEvent) => {
    // The workflows would only pass it on to a child that ignores it: a signal for nothing.
    if (!changesHostView(e.event.type)) return;
    const q = (queues.get(e.livestreamId) ?? Promise.resolve()).then(() => send(e));
    queues.set(e.livestreamId, q);
    // A node runs for months and sees livestreams come and go: a drained queue is forgotten.
    void q.then(() => {
      if (queues.get(e.livestreamId) === q) queues.delete(e.livestreamId);
    });
  };
  ingest.on('host', listener);
  return {
    stop() {
      stopped = true;
      ingest.off('host', listener);
    },
    async idle(livestreamId?: string) {
      // A stop waits for its own livestream's events, never for another one's retries.
      if (livestreamId !== undefined) await queues.get(livestreamId);
      else await Promise.all(queues.values());
    },
    /** Livestreams with events still on their way. */
    busyLivestreams() {
      return queues.size;
    },
  };
}
