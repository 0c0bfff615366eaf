import { randomBytes } from 'node:crypto';
import type { CloudEvent } from '../domain/cloudevent.ts';
import type { MessageBus } from '../delivery/bus/port.ts';

/** Livestreams remembered at most; the oldest is forgotten first. */
const KEPT = 1_000;

/**
 * Every valid event of one kind on the bus, each once, kept per livestream for scoring. Each
 * scorer reads them all (its own transient subscription from the earliest retained event), while
 * snippets are shared out.
 */
export async function collectPerLivestream<D extends { livestreamId: string }>(
  bus: MessageBus,
  o: { name: string; typePrefix: string; problems: (event: unknown) => string[] },
): Promise<{ events(livestreamId: string): D[] | null; close(): Promise<void> }> {
  const byLivestream = new Map<string, { seen: Set<string>; events: D[] }>();
  const sub = await bus.subscribe(
    {
      name: `${o.name}-${process.pid}-${randomBytes(4).toString('hex')}`,
      typePrefix: o.typePrefix,
      startAt: 'earliest',
      transient: true,
    },
    async (d) => {
      if (o.problems(d.event).length === 0) {
        const data = (d.event as CloudEvent<D>).data;
        let entry = byLivestream.get(data.livestreamId);
        if (!entry) {
          entry = { seen: new Set(), events: [] };
          byLivestream.set(data.livestreamId, entry);
          if (byLivestream.size > KEPT) byLivestream.delete(byLivestream.keys().next().value!);
        }
        if (!entry.seen.has(d.event.id)) {
          entry.seen.add(d.event.id);
          entry.events.push(data);
        }
      }
      await d.ack();
    },
  );
  return {
    events: (id) => {
      const entry = byLivestream.get(id);
      return entry ? [...entry.events] : null;
    },
    close: () => sub.close(),
  };
}
