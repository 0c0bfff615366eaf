import { randomBytes } from 'node:crypto';
import type { CloudEvent } from '../domain/cloudevent.ts';
import { HOST_EVENT_PREFIX, hostEventProblems, type HostEventData } from '../domain/host-event.ts';
import type { PresenceChange } from '../domain/presence-mask.ts';
import type { MessageBus, Subscription } from '../delivery/bus/port.ts';

/** Livestreams remembered at most; the oldest is forgotten first. */
const KEPT = 1_000;

export interface PresenceTracker {
  /** The host changes seen for a livestream, or null when none were. */
  changes(livestreamId: string): PresenceChange[] | null;
  close(): Promise<void>;
}

/**
 * Every host change on the bus, kept per livestream for scoring. Each scorer reads them all (its
 * own transient subscription from the earliest retained event), while snippets are shared out.
 */
export async function trackPresence(bus: MessageBus): Promise<PresenceTracker> {
  const byLivestream = new Map<string, { seen: Set<string>; changes: PresenceChange[] }>();
  const sub: Subscription = await bus.subscribe(
    {
      name: `tapedeck-presence-${process.pid}-${randomBytes(4).toString('hex')}`,
      typePrefix: HOST_EVENT_PREFIX,
      startAt: 'earliest',
      transient: true,
    },
    async (d) => {
      if (hostEventProblems(d.event).length === 0) {
        const e = (d.event as CloudEvent<HostEventData>).data;
        let entry = byLivestream.get(e.livestreamId);
        if (!entry) {
          entry = { seen: new Set(), changes: [] };
          byLivestream.set(e.livestreamId, entry);
          if (byLivestream.size > KEPT) byLivestream.delete(byLivestream.keys().next().value!);
        }
        if (!entry.seen.has(d.event.id)) {
          entry.seen.add(d.event.id);
          entry.changes.push({
            hostId: e.hostId,
            change: e.change,
            atMs: Date.parse(e.at),
            cause: e.cause,
          });
        }
      }
      await d.ack();
    },
  );
  return {
    changes: (id) => {
      const entry = byLivestream.get(id);
      return entry ? [...entry.changes] : null;
    },
    close: () => sub.close(),
  };
}
