import { HOST_EVENT_PREFIX, hostEventProblems, type HostEventData } from '../domain/host-event.ts';
import type { PresenceChange } from '../domain/presence-mask.ts';
import type { MessageBus } from '../delivery/bus/port.ts';
import { collectPerLivestream } from './livestream-events.ts';

export interface PresenceTracker {
  /** The host changes seen for a livestream, or null when none were. */
  changes(livestreamId: string): PresenceChange[] | null;
  close(): Promise<void>;
}

/** Every host change on the bus, kept per livestream for scoring. */
export async function trackPresence(bus: MessageBus): Promise<PresenceTracker> {
  const seen = await collectPerLivestream<HostEventData>(bus, {
    name: 'tapedeck-presence',
    typePrefix: HOST_EVENT_PREFIX,
    problems: hostEventProblems,
  });
  return {
    changes: (id) =>
      seen.events(id)?.map((e) => ({
        hostId: e.hostId,
        change: e.change,
        atMs: Date.parse(e.at),
        cause: e.cause,
      })) ?? null,
    close: () => seen.close(),
  };
}
