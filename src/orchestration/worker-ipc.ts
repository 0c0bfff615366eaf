import type { IngestPort } from '../ingest/ingest-port.ts';
import type { LeaseReporter } from './activities/node-activities.ts';
import { ALIVE_EVERY_MS, type Attachment, type WorkerReport } from './worker-report.ts';

export interface WorkerReporter extends LeaseReporter {
  attached(a: Attachment): void;
  detached(a: Attachment): void;
  close(): void;
}

/**
 * Reports to the parent over the IPC channel `tapedeck up` opens, or null when this process has
 * none (run by hand). The channel never keeps the process alive, and a report that cannot be sent
 * is dropped: a lease's heartbeat timeout still covers it.
 */
export function ipcWorkerReporter(): WorkerReporter | null {
  const send = process.send?.bind(process);
  if (!send || !process.channel) return null;
  process.channel.unref();
  const post = (r: WorkerReport) => {
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
    attached: (a) => post({ type: 'attached', ...a }),
    detached: (a) => post({ type: 'detached', ...a }),
    close: () => clearInterval(alive),
  };
}

/**
 * The node's ingest, with every attach reported before it is asked for and every detach after it
 * is done: the node then knows each RTP copy this process may hold, and ends them if it dies.
 */
export function reportingIngest(port: IngestPort, reporter: WorkerReporter): IngestPort {
  return {
    hosts: (livestreamId) => port.hosts(livestreamId),
    async attach(livestreamId, hostId, owner, ports) {
      reporter.attached({ livestreamId, hostId, owner });
      await port.attach(livestreamId, hostId, owner, ports);
    },
    async detach(livestreamId, hostId, owner) {
      await port.detach(livestreamId, hostId, owner);
      reporter.detached({ livestreamId, hostId, owner });
    },
    feedbackPort: (livestreamId, hostId) => port.feedbackPort(livestreamId, hostId),
    sharedVideo: (livestreamId, hostId, fps, reader) =>
      port.sharedVideo(livestreamId, hostId, fps, reader),
    sharesDecoding: () => port.sharesDecoding(),
    follow: (livestreamId, handlers) => port.follow(livestreamId, handlers),
  };
}
