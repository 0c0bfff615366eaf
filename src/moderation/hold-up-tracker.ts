import { randomBytes } from 'node:crypto';
import type { CloudEvent } from '../domain/cloudevent.ts';
import {
  HELD_UP_EVENT_TYPE,
  heldUpEventProblems,
  heldUpRange,
  type HeldUpEventData,
} from '../domain/held-up-event.ts';
import type { TimeRange } from '../domain/time-range.ts';
import type { MessageBus, Subscription } from '../delivery/bus/port.ts';

/** Livestreams remembered at most; the oldest is forgotten first. */
const KEPT = 1_000;

export interface HoldUpTracker {
  /** The stretches a track's recorders were held up, widened by their uncertainty. */
  ranges(livestreamId: string, track: string): TimeRange[];
  close(): Promise<void>;
}

/**
 * Every recorder hold-up on the bus, kept per livestream and track for scoring. Like the host
 * changes, each scorer reads them all from the earliest retained event.
 */
export async function trackHoldUps(bus: MessageBus): Promise<HoldUpTracker> {
  const byLivestream = new Map<string, { seen: Set<string>; byTrack: Map<string, TimeRange[]> }>();
  const sub: Subscription = await bus.subscribe(
    {
      name: `tapedeck-held-up-${process.pid}-${randomBytes(4).toString('hex')}`,
      typePrefix: HELD_UP_EVENT_TYPE,
      startAt: 'earliest',
      transient: true,
    },
    async (d) => {
      if (heldUpEventProblems(d.event).length === 0) {
        const e = (d.event as CloudEvent<HeldUpEventData>).data;
        let entry = byLivestream.get(e.livestreamId);
        if (!entry) {
          entry = { seen: new Set(), byTrack: new Map() };
          byLivestream.set(e.livestreamId, entry);
          if (byLivestream.size > KEPT) byLivestream.delete(byLivestream.keys().next().value!);
        }
        if (!entry.seen.has(d.event.id)) {
          entry.seen.add(d.event.id);
          const list = entry.byTrack.get(e.track) ?? [];
          list.push(heldUpRange(e));
          entry.byTrack.set(e.track, list);
        }
      }
      await d.ack();
    },
  );
  return {
    ranges: (id, track) => [...(byLivestream.get(id)?.byTrack.get(track) ?? [])],
    close: () => sub.close(),
  };
}
