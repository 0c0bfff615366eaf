import {
  HELD_UP_EVENT_TYPE,
  heldUpEventProblems,
  heldUpRange,
  type HeldUpEventData,
  type HeldUpRange,
} from '../domain/held-up-event.ts';
import type { MessageBus } from '../delivery/bus/port.ts';
import { collectPerLivestream } from './livestream-events.ts';

export interface HoldUpTracker {
  /** The stretches a track's recorders were held up, widened by their uncertainty. */
  ranges(livestreamId: string, track: string): HeldUpRange[];
  close(): Promise<void>;
}

/** Every recorder hold-up on the bus, kept per livestream for scoring, like the host changes. */
export async function trackHoldUps(bus: MessageBus): Promise<HoldUpTracker> {
  const seen = await collectPerLivestream<HeldUpEventData>(bus, {
    name: 'tapedeck-held-up',
    typePrefix: HELD_UP_EVENT_TYPE,
    problems: heldUpEventProblems,
  });
  return {
    ranges: (id, track) =>
      (seen.events(id) ?? []).filter((e) => e.track === track).map(heldUpRange),
    close: () => seen.close(),
  };
}
