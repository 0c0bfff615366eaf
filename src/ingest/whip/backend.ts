import type { ParsedOffer, RecordingPlan } from '../../domain/sdp-offer.ts';

/**
 * What the WHIP HTTP layer needs from whatever terminates WebRTC. The HTTP layer
 * has already checked ids, token, SDP and codecs before any of these is called.
 */
export interface SessionBackend {
  hasLivestream(livestreamId: string): boolean;
  isPublishing(livestreamId: string, hostId: string): boolean;
  createSession(request: {
    livestreamId: string;
    hostId: string;
    offer: ParsedOffer;
    /** The offer text as received, for backends that hand it to a WebRTC stack. */
    offerSdp: string;
    plan: RecordingPlan;
  }): Promise<{ sessionId: string; answerSdp: string }>;
  deleteSession(sessionId: string): Promise<void>;
  sessionOwner(sessionId: string): { livestreamId: string; hostId: string } | null;
}

/** Thrown by `createSession` when this process takes no more publishers (answered 503). */
export class AtCapacityError extends Error {
  override name = 'AtCapacityError';
  constructor(readonly retryAfterSeconds = 5) {
    super('ingest is at capacity');
  }
}

/** Thrown by `createSession` when a concurrent publish for the same host won (answered 409). */
export class AlreadyPublishingError extends Error {
  override name = 'AlreadyPublishingError';
  constructor() {
    super('host is already publishing');
  }
}
