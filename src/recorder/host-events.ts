import { hostCloudEvent } from '../domain/host-event.ts';
import type { Outbox } from '../delivery/outbox.ts';
import type { IngestHostEvent, LiveIngest } from '../ingest/live-ingest.ts';

/**
 * Announces every host event on the bus as a `tapedeck.host.*` CloudEvent. Through the outbox:
 * the event is on disk before this returns, so a broker that is down delays it and loses nothing.
 * Returns the unsubscribe.
 */
export function announceHostEvents(
  ingest: LiveIngest,
  outbox: Outbox,
  onError: (err: Error) => void = () => undefined,
): () => void {
  const listener = (e: IngestHostEvent) => {
    outbox.add(hostCloudEvent(e.livestreamId, e.event)).catch(onError);
  };
  ingest.on('host', listener);
  return () => ingest.off('host', listener);
}
