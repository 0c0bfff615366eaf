import type { RecordingProgress } from './contracts.ts';

/**
 * What a supervised worker process tells its node about what it holds: leases, and RTP copies
 * attached at the node's ingest. The node sees the process exit the moment it does, and then
 * fails those leases, so the recordings start again elsewhere at once, and detaches those copies,
 * which would otherwise go on to dead ports for as long as the hosts publish. Without this a dead
 * worker shows only when its leases miss their heartbeat timeout, and a short timeout makes every
 * lease send a heartbeat to the Temporal server twice a second.
 */
export type WorkerReport =
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
  /** Sent before the attach request, so no attachment is ever unknown to the node. */
  | ({ type: 'attached' } & Attachment)
  | ({ type: 'detached' } & Attachment)
  /** Sent every second: the last one bounds when the process was last seen working. */
  | { type: 'alive'; atMs: number };

export interface Attachment {
  livestreamId: string;
  hostId: string;
  owner: string;
}

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

/** What a worker process held when it exited. */
export interface Orphaned {
  leases: OrphanedLease[];
  attachments: Attachment[];
}

interface Held {
  handleId: string;
  recordingId: string;
  progress: RecordingProgress;
}

const TYPES = new Set([
  'lease-held',
  'lease-progress',
  'lease-ended',
  'attached',
  'detached',
  'alive',
]);

export function isWorkerReport(m: unknown): m is WorkerReport {
  if (typeof m !== 'object' || m === null) return false;
  return TYPES.has((m as { type?: unknown }).type as string);
}

const attachmentKey = (a: Attachment) => JSON.stringify([a.livestreamId, a.hostId, a.owner]);

/** What one worker process holds, as its reports tell it. */
export class WorkerBook {
  private readonly held = new Map<string, Held>();
  private readonly attached = new Map<string, Attachment>();
  private lastAliveMs: number;

  constructor(startedAtMs: number) {
    this.lastAliveMs = startedAtMs;
  }

  get leases(): number {
    return this.held.size;
  }

  get attachments(): number {
    return this.attached.size;
  }

  apply(r: WorkerReport): void {
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
      case 'attached': {
        const { livestreamId, hostId, owner } = r;
        this.attached.set(attachmentKey(r), { livestreamId, hostId, owner });
        break;
      }
      case 'detached':
        this.attached.delete(attachmentKey(r));
        break;
      case 'alive':
        this.lastAliveMs = Math.max(this.lastAliveMs, r.atMs);
        break;
    }
  }

  /**
   * What was held when the process exited, and clears it. Lease progress is dated at the last
   * sign of life, never later than the exit: the gap announced for them starts there.
   */
  orphaned(exitedAtMs: number): Orphaned {
    const atMs = Math.min(this.lastAliveMs, exitedAtMs);
    const leases = [...this.held].map(([taskToken, h]) => ({
      taskToken,
      recordingId: h.recordingId,
      progress: { ...h.progress, atMs },
    }));
    const attachments = [...this.attached.values()];
    this.held.clear();
    this.attached.clear();
    return { leases, attachments };
  }
}
