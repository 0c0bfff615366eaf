import { type CloudEvent, envelopeProblems, EventSchemaError } from '../../domain/cloudevent.ts';

/**
 * Pub/sub for CloudEvents. Every adapter makes the same promises, proven by one
 * contract suite (test/delivery/bus/contract.ts):
 * - publish resolves only once the broker has the event durably (acknowledged);
 * - delivery is at least once: an event a subscriber did not ack comes again,
 *   also after a restart of the subscriber or the broker;
 * - a subscription is durable and named: a consumer that comes back resumes where it acked.
 * Consumers deduplicate by event id (ids are stable per fact).
 */
export interface Delivery {
  event: CloudEvent;
  /** Marks the event as processed for this subscription. */
  ack(): Promise<void>;
  /** Asks for redelivery (or lets it time out). */
  nack(): Promise<void>;
}

export interface SubscribeOptions {
  /** Durable subscription name ([A-Za-z0-9_-]{1,64}); one name = one shared cursor. */
  name: string;
  /** Only events whose type starts with this. */
  typePrefix?: string;
  /** Where a new subscription starts: every retained event (default) or only new ones. */
  startAt?: 'earliest' | 'new';
  /**
   * For one-off readers such as `events tail`: the subscription and its cursor are removed when
   * it is closed, so nothing piles up on the broker. Where a broker can, it also drops one whose
   * reader died without closing (NATS after an hour idle).
   */
  transient?: boolean;
}

export interface Subscription {
  /** Stops delivering; unacked events stay for the next subscriber of that name. */
  close(): Promise<void>;
}

export interface MessageBus {
  /** A short description for logs, e.g. `nats://127.0.0.1:4222` (never credentials). */
  readonly describe: string;
  /** Fails fast with a clear BusError when the broker cannot be reached or used. */
  check(): Promise<void>;
  publish(event: CloudEvent): Promise<void>;
  subscribe(opts: SubscribeOptions, handler: (d: Delivery) => Promise<void>): Promise<Subscription>;
  close(): Promise<void>;
}

export class BusError extends Error {
  override name = 'BusError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Every adapter refuses a bad envelope the same way, before anything reaches the broker. */
export function assertPublishable(event: CloudEvent): void {
  const problems = envelopeProblems(event);
  if (problems.length > 0) {
    throw new BusError(`refusing to publish an invalid event: ${problems.join('; ')}`, false, {
      cause: new EventSchemaError(problems),
    });
  }
}
