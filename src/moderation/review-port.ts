import type { AuditEntry, Decision, Review, ReviewDraft, ReviewStatus } from '../domain/review.ts';

/**
 * The moderation service as escalation and the reviewer page see it. tapedeck ships one (the
 * built-in service and its HTTP client); a platform can put its own behind the same port.
 */
export interface ReviewQuery {
  livestreamId?: string;
  track?: string;
  status?: ReviewStatus;
}

export interface ModerationPort {
  /** Creates a review. The same idempotency key always gives back the same review. */
  createReview(draft: ReviewDraft, idempotencyKey: string): Promise<Review>;
  /** Widens an open review (see extendReview in the domain). ReviewClosedError once it is decided. */
  extendReview(id: string, draft: ReviewDraft, idempotencyKey: string): Promise<Review>;
  /** Oldest first. */
  listReviews(query?: ReviewQuery): Promise<Review[]>;
  /** ReviewNotFoundError when there is no such review. */
  getReview(id: string): Promise<Review>;
  decide(id: string, decision: Decision, note: string): Promise<Review>;
  /** In the order things happened. */
  audit(reviewId?: string): Promise<AuditEntry[]>;
}

export class ModerationError extends Error {
  override name = 'ModerationError';
  /** True when trying again later may work (service down, 5xx, timeout). */
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class ReviewNotFoundError extends ModerationError {
  override name = 'ReviewNotFoundError';
  constructor(id: string) {
    super(`review ${id} does not exist`, false);
  }
}

/** The review was decided already: it cannot be extended or decided again. */
export class ReviewClosedError extends ModerationError {
  override name = 'ReviewClosedError';
}

/** The request was refused as invalid; the message lists every problem. */
export class ModerationInputError extends ModerationError {
  override name = 'ModerationInputError';
  constructor(message: string) {
    super(message, false);
  }
}
