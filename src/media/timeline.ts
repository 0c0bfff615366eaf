/** A scripted change during a synthetic recording, e.g. "8:camera-off:2" (host 2's camera off at 8 s). */
export interface TimelineStep {
  atSeconds: number;
  action: 'add' | 'remove' | 'camera-off' | 'camera-on';
  /** 1-based host number; "add" without one adds the next host. */
  host?: number;
}

const ACTIONS = ['add', 'remove', 'camera-off', 'camera-on'] as const;

export class TimelineError extends Error {
  override name = 'TimelineError';
}

export function parseTimeline(text: string): TimelineStep[] {
  if (!text.trim()) return [];
  return text
    .split(',')
    .map((part) => {
      const [at, action, host, ...rest] = part.trim().split(':');
      const atSeconds = Number(at);
      if (rest.length || !at || !Number.isFinite(atSeconds) || atSeconds < 0)
        throw new TimelineError(`timeline step "${part}" is not SECONDS:ACTION[:HOST]`);
      if (!ACTIONS.includes(action as TimelineStep['action']))
        throw new TimelineError(
          `timeline step "${part}": action must be one of ${ACTIONS.join(', ')}`,
        );
      const step: TimelineStep = { atSeconds, action: action as TimelineStep['action'] };
      if (host !== undefined) {
        const n = Number(host);
        if (!Number.isInteger(n) || n < 1 || n > 64)
          throw new TimelineError(`timeline step "${part}": host must be a number from 1`);
        step.host = n;
      } else if (action !== 'add')
        throw new TimelineError(`timeline step "${part}" needs a host number`);
      return step;
    })
    .sort((a, b) => a.atSeconds - b.atSeconds);
}
