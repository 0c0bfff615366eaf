import { ApplicationFailure, type Client } from '@temporalio/client';
import { WORKER_GONE, type OrphanedLease } from '../orchestration/lease-report.ts';

/**
 * Fails the leases of a worker process that exited, carrying each recording's progress, so its
 * workflow starts the recording again now rather than at the heartbeat timeout. A lease that
 * ended meanwhile is refused by the server (not found) and skipped; one that cannot be failed
 * (Temporal unreachable) still times out.
 */
export async function failOrphanedLeases(
  client: Client,
  leases: readonly OrphanedLease[],
  why: string,
  log: (line: string) => void,
): Promise<void> {
  const results = await Promise.allSettled(
    leases.map((l) =>
      client.activity.fail(
        Buffer.from(l.taskToken, 'base64'),
        ApplicationFailure.nonRetryable(
          `${why}; recording ${l.recordingId} went with it`,
          WORKER_GONE,
          l.progress,
        ),
      ),
    ),
  );
  const failed = results.filter((r) => r.status === 'fulfilled').length;
  const refused = results.length - failed;
  log(
    `${why}: failed ${failed} of its ${leases.length} leases${refused ? ` (${refused} had ended or could not be reached)` : ''}`,
  );
}
