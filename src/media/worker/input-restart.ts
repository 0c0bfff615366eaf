/**
 * When an input whose element failed is attached again. The first try comes soon, so a host's
 * picture is back within a second; an input that fails again soon after waits twice as long each
 * time, up to a ceiling, so a fault that will not clear costs little CPU and few warnings.
 */
export const INPUT_RESTART_FIRST_MS = 500;
export const INPUT_RESTART_MAX_MS = 8000;
/** A restart this long ago counts as having worked: the next failure starts over at the first delay. */
export const INPUT_RESTART_SETTLED_MS = 30_000;

export interface InputRestarts {
  /** The delay of the last restart. */
  delayMs: number;
  /** When the last restart was made (ms, any monotonic clock). */
  atMs: number;
}

export function nextRestartDelayMs(last: InputRestarts | undefined, nowMs: number): number {
  if (!last || nowMs - last.atMs >= INPUT_RESTART_SETTLED_MS) return INPUT_RESTART_FIRST_MS;
  return Math.min(last.delayMs * 2, INPUT_RESTART_MAX_MS);
}
