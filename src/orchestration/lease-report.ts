import type { RecordingProgress } from './contracts.ts';

/**
 * What a supervised worker process tells its node about the leases it holds, so that the node,
 * which sees the process exit the moment it does, can fail those leases at once. Without this a
 * dead worker shows only when its leases miss their heartbeat timeout, and a short timeout makes
 * every lease send a heartbeat to the Temporal server twice a second.
 */
export type LeaseReport =
  | {
      type: 'lease-held';
      /** The awaitRecording activity's task token, base64. */
      taskToken: string;
      handleId: string;
      recordingId: string;
      progress: RecordingProgress;
    }
  | { type: 'lease-progress'; handleId: string; progress: RecordingProgress }
  | { type: 'lease-ended'; taskToken: string }
  /** Sent every second: the last one bounds when the process was last seen working. */
  | { type: 'alive'; atMs: number };

/** The failure type a lease gets when the node saw its worker process exit. */
export const WORKER_GONE = 'WorkerGone';

/** The interval of the worker's `alive` reports. */
export const ALIVE_EVERY_MS = 1_000;

export interface OrphanedLease {
  taskToken: string;
  recordingId: string;
  /** What the recording had opened, as of `atMs`: when its process was last seen alive. */
  progress: RecordingProgress;
}

interface Held {
  handleId: string;
  recordingId: string;
  progress: RecordingProgress;
}

export function isLeaseReport(m: unknown): m is LeaseReport {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  return t === 'lease-held' || t === 'lease-progress' || t === 'lease-ended' || t === 'alive';
}

/** The leases one worker process holds, as its reports tell them. */
export class LeaseBook {
  private readonly held = new Map<string, Held>();
  private lastAliveMs: number;

  constructor(startedAtMs: number) {
    this.lastAliveMs = startedAtMs;
  }

  get size(): number {
    return this.held.size;
  }

  apply(r: LeaseReport): void {
    switch (r.type) {
      case 'lease-held':
        this.held.set(r.taskToken, {
          handleId: r.handleId,
          recordingId: r.recordingId,
          progress: { ...r.progress },
        });
        this.lastAliveMs = Math.max(this.lastAliveMs, r.progress.atMs);
        break;
      case 'lease-progress':
        for (const h of this.held.values())
          if (h.handleId === r.handleId) h.progress = { ...r.progress };
        this.lastAliveMs = Math.max(this.lastAliveMs, r.progress.atMs);
        break;
      case 'lease-ended':
        this.held.delete(r.taskToken);
        break;
      case 'alive':
        this.lastAliveMs = Math.max(this.lastAliveMs, r.atMs);
        break;
    }
  }

  /**
   * The leases left when the process exited, and clears them. Their progress is dated at the
   * last sign of life, never later than the exit: the gap announced for them starts there.
   */
  orphaned(exitedAtMs: number): OrphanedLease[] {
    const atMs = Math.min(this.lastAliveMs, exitedAtMs);
    const out = [...this.held].map(([taskToken, h]) => ({
      taskToken,
      recordingId: h.recordingId,
      progress: { ...h.progress, atMs },
    }));
    this.held.clear();
    return out;
  }
}
