import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  type RetryPolicy,
  setHandler,
} from '@temporalio/workflow';
import { coalesce, reviewIdempotencyKey } from '../../domain/escalation.ts';
import {
  flagsDigest,
  groupFlags,
  reviewDraftFor,
  type EscalationFlag,
} from '../../domain/escalation-flags.ts';
import {
  escalationStateQuery,
  flagSignal,
  MODERATION_TASK_QUEUE,
  type CutClip,
  type EscalationActivities,
  type EscalationInput,
  type OpenReviewRef,
} from '../escalation/contracts.ts';
import { historyFull } from './history.ts';

const MAX_HISTORY_EVENTS = 2_000;
const SEEN_KEPT = 500;

// Storage or the moderation service being down is waited out, however long it takes: the review
// then arrives late rather than never. Only a request the service refuses as invalid gives up.
const RETRY_FOREVER: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: [
    'ModerationInputError',
    'ReviewNotFoundError',
    'ReviewClosedError',
    'MergeError',
  ],
};

const clips = proxyActivities<EscalationActivities>({
  taskQueue: MODERATION_TASK_QUEUE,
  // Long enough to wait for a live range's last 30 s to be recorded; heartbeats show it is alive.
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: RETRY_FOREVER,
});

const reviews = proxyActivities<EscalationActivities>({
  taskQueue: MODERATION_TASK_QUEUE,
  startToCloseTimeout: '1 minute',
  retry: RETRY_FOREVER,
});

/**
 * The service refused the request as invalid: trying again cannot help. The flags are logged with
 * the reason, and the workflow goes on with the next ones.
 */
function refused(err: unknown, flags: EscalationFlag[]): void {
  if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)) throw err;
  log.error('these flags cannot be escalated (refused, or their snippets cannot be merged)', {
    reason: err.cause.message,
    type: err.cause.type,
    snippets: flags.map((f) => f.key),
  });
}

function closedMeanwhile(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === 'ReviewClosedError'
  );
}

/**
 * Escalation of one track: every low-scored snippet becomes a merged clip around it and a review.
 * One workflow per track handles its flags one batch at a time, so an escalation that overlaps an
 * open review widens that review instead of making a second one.
 */
export async function trackEscalationWorkflow(input: EscalationInput): Promise<number> {
  const pending: EscalationFlag[] = [...(input.carried?.pending ?? [])];
  let open: OpenReviewRef[] = [...(input.carried?.open ?? [])];
  const seen: string[] = [...(input.carried?.seen ?? [])];
  let busy = false;
  let reviewsMade = input.carried?.reviewsMade ?? 0;

  setHandler(flagSignal, (flag) => {
    if (seen.includes(flag.key) || pending.some((p) => p.key === flag.key)) return;
    pending.push(flag);
  });
  setHandler(escalationStateQuery, () => ({
    pending: pending.length,
    busy,
    open: [...open],
    reviewsMade,
  }));

  for (;;) {
    const more = await condition(() => pending.length > 0, input.idleMs ?? 15 * 60_000);
    if (!more) return reviewsMade;
    busy = true;
    const batch = pending.splice(0);
    for (const group of groupFlags(batch, input.window)) {
      const mine = open.filter((r) => r.variant === group.variant);
      const { joins, range } = coalesce(mine, group.range);
      let clip: CutClip | null;
      try {
        clip = await clips.cutClip({
          livestreamId: input.livestreamId,
          track: input.track,
          variant: group.variant,
          range,
        });
      } catch (err) {
        refused(err, group.flags);
        continue;
      }
      if (!clip) {
        log.warn('no snippet of the flagged range is stored; nothing to review', {
          track: input.track,
          range,
        });
        continue;
      }
      const draft = reviewDraftFor({
        livestreamId: input.livestreamId,
        track: input.track,
        variant: group.variant,
        clipKey: clip.clipKey,
        covered: clip.covered,
        flags: group.flags,
      });
      const digest = flagsDigest(group.flags);
      let review: OpenReviewRef | null = null;
      const target = joins[0];
      if (target) {
        try {
          review = await reviews.extendReview(
            target,
            draft,
            `${target}:${clip.covered.startMs}-${clip.covered.endMs}:${digest}`,
          );
        } catch (err) {
          if (!closedMeanwhile(err)) {
            refused(err, group.flags);
            continue;
          }
        }
      }
      try {
        review ??= await reviews.createReview(
          draft,
          `${reviewIdempotencyKey(input.livestreamId, input.track, clip.covered)}:${digest}`,
        );
      } catch (err) {
        refused(err, group.flags);
        continue;
      }
      reviewsMade += 1;
      open = [...open.filter((r) => !joins.includes(r.id) && r.id !== review.id), review];
    }
    for (const f of batch) seen.push(f.key);
    seen.splice(0, Math.max(0, seen.length - SEEN_KEPT));
    busy = false;
    if (historyFull(input.historyLimit ?? MAX_HISTORY_EVENTS))
      await continueAsNew<typeof trackEscalationWorkflow>({
        ...input,
        carried: { pending, open, seen, reviewsMade },
      });
  }
}
