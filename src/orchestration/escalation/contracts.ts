import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { EscalationWindow } from '../../domain/escalation.ts';
import type { EscalationFlag } from '../../domain/escalation-flags.ts';
import type { ReviewDraft } from '../../domain/review.ts';
import type { Variant } from '../../domain/snippet-key.ts';
import type { TimeRange } from '../../domain/time-range.ts';

/** Moderation activities run on their own queue, served wherever the moderation worker runs. */
export const MODERATION_TASK_QUEUE = 'tapedeck-moderation';

export interface EscalationInput {
  livestreamId: string;
  track: string;
  window: EscalationWindow;
  /** A workflow with nothing to do for this long ends; the next flag starts it again. */
  idleMs?: number;
  /** Events its history may reach before it goes on as a new run; default 2,000. */
  historyLimit?: number;
  /** Carried over by Continue-As-New. */
  carried?: EscalationCarried;
}

export interface OpenReviewRef {
  id: string;
  variant: Variant;
  range: TimeRange;
}

export interface EscalationCarried {
  pending: EscalationFlag[];
  open: OpenReviewRef[];
  /** Keys of flags already handled, newest last: a redelivered score is not escalated twice. */
  seen: string[];
  /** Reviews made or widened by the runs before. */
  reviewsMade?: number;
}

export interface EscalationState {
  pending: number;
  busy: boolean;
  open: OpenReviewRef[];
  reviewsMade: number;
}

export interface CutClipRequest {
  livestreamId: string;
  track: string;
  variant: Variant;
  range: TimeRange;
}

export interface CutClip {
  clipKey: string;
  /** What the snippets in the clip cover: whole snippets, so at most one snippet past the range. */
  covered: TimeRange;
  holes: TimeRange[];
  durationSec: number;
  snippets: number;
}

export interface EscalationActivities {
  /**
   * Waits until the range is stored (or the recording went no further), merges the snippets that
   * overlap it into one clip and stores it under the livestream's reviews prefix. Null when no
   * snippet of the range was ever stored.
   */
  cutClip(request: CutClipRequest): Promise<CutClip | null>;
  createReview(draft: ReviewDraft, idempotencyKey: string): Promise<OpenReviewRef>;
  /** Fails with the type ReviewClosed when the review was decided meanwhile. */
  extendReview(id: string, draft: ReviewDraft, idempotencyKey: string): Promise<OpenReviewRef>;
}

export const flagSignal = defineSignal<[EscalationFlag]>('flag');
export const escalationStateQuery = defineQuery<EscalationState>('escalationState');
