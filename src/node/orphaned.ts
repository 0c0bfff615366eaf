import { ApplicationFailure, type Client } from '@temporalio/client';
import type { IngestPort } from '../ingest/ingest-port.ts';
import { WORKER_GONE, type Orphaned } from '../orchestration/worker-report.ts';

/**
 * Ends what a worker process that exited still held. Each lease is failed with its recording's
 * progress, so its workflow starts the recording again now rather than at the heartbeat timeout;
 * a lease that ended meanwhile is refused by the server (not found) and skipped, and one that
 * cannot be failed (Temporal unreachable) still times out. Each RTP copy is detached: its media
 * process is gone or going (it finishes its snippet the moment it is orphaned), and the copy would
 * otherwise cost a socket and a send per packet for as long as the host publishes.
 */
export async function endOrphaned(
  deps: { client: Client; ingest: IngestPort; log: (line: string) => void },
  orphaned: Orphaned,
  why: string,
): Promise<void> {
  const detached = await Promise.allSettled(
    orphaned.attachments.map((a) => deps.ingest.detach(a.livestreamId, a.hostId, a.owner)),
  );
  const failed = await Promise.allSettled(
    orphaned.leases.map((l) =>
      deps.client.activity.fail(
        Buffer.from(l.taskToken, 'base64'),
        ApplicationFailure.nonRetryable(
          `${why}; recording ${l.recordingId} went with it`,
          WORKER_GONE,
          l.progress,
        ),
      ),
    ),
  );
  const ok = (r: PromiseSettledResult<unknown>[]) =>
    r.filter((x) => x.status === 'fulfilled').length;
  deps.log(
    `${why}: failed ${ok(failed)} of its ${failed.length} leases (the others had ended or Temporal ` +
      `did not answer), detached ${ok(detached)} of its ${detached.length} RTP copies`,
  );
}
