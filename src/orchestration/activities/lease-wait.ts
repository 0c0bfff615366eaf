/** What a lease's wait needs of its activity context (Temporal's Context has all three). */
export interface LeaseContext {
  heartbeat(details?: unknown): void;
  /** Rejects at once, and for good, once the activity is cancelled. */
  sleep(ms: number): Promise<void>;
  /** Rejects once the activity is cancelled. */
  readonly cancelled: Promise<never>;
}

/**
 * Keeps a lease while its recording finishes (EOS, the last snippets into the store), with a
 * heartbeat every `everyMs`: the recording's result, or its failure. A cancelled lease (its
 * workflow run went on as new or ended, or it timed out) ends at once with the cancellation, and
 * the recording finishes without it: its stop is awaited by stopRecording, not by the lease.
 *
 * A cancelled context's sleep rejects at once, every time. A wait that took that for a tick of
 * the clock and looped spun the process's main thread for as long as the recording took to
 * finish, which, the main thread being the one that finishes it, was forever.
 */
export async function waitWhileStopping<T>(
  ctx: LeaseContext,
  stopping: Promise<T>,
  progress: () => unknown,
  everyMs: number,
): Promise<T> {
  let settled = false;
  const finished = stopping.finally(() => {
    settled = true;
  });
  finished.catch(() => undefined);
  for (;;) {
    ctx.heartbeat(progress());
    await Promise.race([finished, ctx.sleep(everyMs), ctx.cancelled]);
    if (settled) return finished;
  }
}
