import type { LeaseReporter } from './activities/node-activities.ts';
import { ALIVE_EVERY_MS, type LeaseReport } from './lease-report.ts';

/**
 * Lease reports to the parent over the IPC channel `tapedeck up` opens, or null when this process
 * has none (run by hand). The channel never keeps the process alive, and a report that cannot be
 * sent is dropped: the lease's heartbeat timeout still covers it.
 */
export function ipcLeaseReporter(): (LeaseReporter & { close(): void }) | null {
  const send = process.send?.bind(process);
  if (!send || !process.channel) return null;
  process.channel.unref();
  const post = (r: LeaseReport) => {
    if (!process.connected) return;
    try {
      send(r, undefined, {}, () => undefined);
    } catch {
      // The parent is gone; the orphan watchdogs end this process.
    }
  };
  const alive = setInterval(() => post({ type: 'alive', atMs: Date.now() }), ALIVE_EVERY_MS);
  alive.unref();
  const b64 = (t: Uint8Array) => Buffer.from(t).toString('base64');
  return {
    held: (token, handle, progress) =>
      post({
        type: 'lease-held',
        taskToken: b64(token),
        handleId: handle.handleId,
        recordingId: handle.recordingId,
        progress,
      }),
    progress: (handleId, progress) => post({ type: 'lease-progress', handleId, progress }),
    ended: (token) => post({ type: 'lease-ended', taskToken: b64(token) }),
    close: () => clearInterval(alive),
  };
}
