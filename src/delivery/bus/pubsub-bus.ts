import { setTimeout as sleep } from 'node:timers/promises';

import {
  Duration,
  type Message,
  PubSub,
  type Subscription as PubSubSubscriptionHandle,
  type Topic,
} from '@google-cloud/pubsub';

import { type CloudEvent, decodeEvent, encodeEvent } from '../../domain/cloudevent.ts';
import { assertId } from '../../domain/ids.ts';
import {
  assertPublishable,
  BusError,
  type Delivery,
  type MessageBus,
  type SubscribeOptions,
  type Subscription,
} from './port.ts';

export interface PubSubBusOptions {
  projectId: string;
  topic: string;
  /** host:port of a Pub/Sub emulator; without it, Google Cloud with application default credentials. */
  emulatorHost?: string;
  /** Ack deadline of subscriptions this bus creates, and how long an unsettled delivery is held. */
  ackDeadlineSeconds?: number;
  /** Message retention of a topic this bus creates: how far back "earliest" reaches. */
  retentionSeconds?: number;
  /** Bound on every call to the service, publish included. */
  timeoutMs?: number;
  /** Messages held ahead of the handler per subscription. */
  maxInFlight?: number;
  onWarning?: (message: string) => void;
}

// gRPC status codes the adapter reacts to.
const ALREADY_EXISTS = 6;
const NOT_FOUND = 5;
const DENIED = new Set([7, 16]);

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** gax appends every retried attempt to its message; the first line says it all. */
function reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const first = text.split(/\n| : Previous errors/)[0] ?? text;
  return first.length > 300 ? `${first.slice(0, 300)}…` : first;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function secondsOf(d: { seconds?: unknown } | null | undefined): number {
  const s = Number(d?.seconds ?? 0);
  return Number.isFinite(s) ? s : 0;
}

export class PubSubBus implements MessageBus {
  readonly describe: string;
  private readonly client: PubSub;
  private readonly topic: Topic;
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  readonly ackDeadlineSeconds: number;
  private readonly retentionSeconds: number;
  readonly maxInFlight: number;
  readonly warn: (message: string) => void;
  private topicReady: Promise<number> | null = null;
  private readonly subs = new Set<PubSubSubscription>();
  private closed = false;
  private readonly emulated: boolean;

  constructor(private readonly opts: PubSubBusOptions) {
    this.emulated = opts.emulatorHost !== undefined;
    this.describe = `pubsub://${opts.projectId}/${opts.topic}`;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.ackDeadlineSeconds = opts.ackDeadlineSeconds ?? 60;
    this.retentionSeconds = opts.retentionSeconds ?? 7 * 24 * 3600;
    this.maxInFlight = opts.maxInFlight ?? 16;
    this.warn = opts.onWarning ?? ((m) => console.warn(`tapedeck bus: ${m}`));
    if (opts.emulatorHost !== undefined) {
      this.endpoint = `the Pub/Sub emulator at ${opts.emulatorHost}`;
      this.client = new PubSub({
        projectId: opts.projectId,
        apiEndpoint: opts.emulatorHost,
        emulatorMode: true,
        // Named here so the auth library does not probe the GCE metadata server to learn it.
        universeDomain: 'googleapis.com',
      });
    } else {
      this.endpoint = 'Google Cloud Pub/Sub';
      // Named so that a PUBSUB_EMULATOR_HOST left in the environment cannot redirect it.
      this.client = new PubSub({ projectId: opts.projectId, apiEndpoint: 'pubsub.googleapis.com' });
    }
    this.topic = this.client.topic(opts.topic, {
      gaxOpts: { timeout: this.timeoutMs },
      batching: { maxMessages: 100, maxMilliseconds: 10 },
    });
  }

  private fail(what: string, err: unknown): BusError {
    if (err instanceof BusError) return err;
    const code = codeOf(err);
    if (/default credentials/i.test(reason(err))) {
      return new BusError(
        `${what} on ${this.describe}: no Google credentials found ` +
          '(set GOOGLE_APPLICATION_CREDENTIALS, or PUBSUB_EMULATOR_HOST for the emulator)',
        false,
        { cause: err },
      );
    }
    if (code !== undefined && DENIED.has(code)) {
      return new BusError(
        `${what} on ${this.describe}: ${reason(err)} (check the credentials and their Pub/Sub roles)`,
        false,
        { cause: err },
      );
    }
    return new BusError(`${what} on ${this.describe} via ${this.endpoint}: ${reason(err)}`, true, {
      cause: err,
    });
  }

  /** Makes sure the topic exists; resolves with its message retention in seconds. */
  private ensureTopic(): Promise<number> {
    this.topicReady ??= this.ensureTopicNow().catch((err: unknown) => {
      this.topicReady = null;
      throw err;
    });
    return this.topicReady;
  }

  private async ensureTopicNow(): Promise<number> {
    const call = { timeout: this.timeoutMs };
    try {
      const [meta] = await withTimeout(this.topic.getMetadata(call), this.timeoutMs * 2, 'topic');
      return secondsOf(meta.messageRetentionDuration);
    } catch (err) {
      if (codeOf(err) !== NOT_FOUND) throw this.fail('cannot read the topic', err);
    }
    try {
      await this.client.createTopic(
        {
          name: this.opts.topic,
          messageRetentionDuration: { seconds: this.retentionSeconds },
        },
        call,
      );
    } catch (err) {
      if (codeOf(err) !== ALREADY_EXISTS) throw this.fail('cannot create the topic', err);
    }
    return this.retentionSeconds;
  }

  async check(): Promise<void> {
    if (this.closed) throw new BusError(`${this.describe} is closed`, false);
    this.topicReady = null;
    await this.ensureTopic();
  }

  async publish(event: CloudEvent): Promise<void> {
    assertPublishable(event);
    if (this.closed) throw new BusError(`${this.describe} is closed`, false);
    await this.ensureTopic();
    try {
      await withTimeout(
        this.topic.publishMessage({
          data: encodeEvent(event),
          // The body is the whole structured event; these let filters and tools see it unparsed.
          attributes: {
            'ce-id': event.id,
            'ce-type': event.type,
            'ce-source': event.source,
            'ce-specversion': event.specversion,
            'content-type': 'application/cloudevents+json',
          },
        }),
        this.timeoutMs + 5_000,
        'publish',
      );
    } catch (err) {
      throw this.fail('publish failed', err);
    }
  }

  async subscribe(
    opts: SubscribeOptions,
    handler: (d: Delivery) => Promise<void>,
  ): Promise<Subscription> {
    assertId('subscription name', opts.name);
    if (this.closed) throw new BusError(`${this.describe} is closed`, false);
    const retention = await this.ensureTopic();
    const name = `${this.opts.topic}-${opts.name}`;
    const deadline = Duration.from({ seconds: this.ackDeadlineSeconds });
    const handle = this.client.subscription(name, {
      flowControl: { maxMessages: this.maxInFlight, allowExcessMessages: false },
      minAckDeadline: deadline,
      maxAckDeadline: deadline,
      closeOptions: { timeout: Duration.from({ seconds: 10 }) },
    });
    await this.ensureSubscription(name, handle, opts, retention);
    const sub = new PubSubSubscription(this, opts, handler, handle, () => this.subs.delete(sub));
    this.subs.add(sub);
    if (!opts.transient) return sub;
    return {
      close: async () => {
        await sub.close();
        await handle.delete({ timeout: this.timeoutMs }).catch(() => undefined);
      },
    };
  }

  private async ensureSubscription(
    name: string,
    handle: PubSubSubscriptionHandle,
    opts: SubscribeOptions,
    retentionSeconds: number,
  ): Promise<void> {
    const call = { timeout: this.timeoutMs };
    try {
      await handle.getMetadata(call);
      return;
    } catch (err) {
      if (codeOf(err) !== NOT_FOUND) throw this.fail(`cannot read subscription ${name}`, err);
    }
    const createdAt = new Date();
    try {
      await this.topic.createSubscription(name, {
        // Google's default expiry is kept (31 days without a consumer): a subscription made
        // by a one-off reader such as `events tail` must not pile up messages for ever.
        ackDeadlineSeconds: this.ackDeadlineSeconds,
        gaxOpts: call,
      });
    } catch (err) {
      if (codeOf(err) === ALREADY_EXISTS) return;
      throw this.fail(`cannot create subscription ${name}`, err);
    }
    const from = await this.startOf(opts, createdAt, retentionSeconds);
    if (from === null) return;
    try {
      await handle.seek(from, call);
    } catch (err) {
      throw this.fail(`cannot set where subscription ${name} starts`, err);
    }
  }

  /** Where a new subscription must be moved to, or null where it already starts right. */
  private async startOf(
    opts: SubscribeOptions,
    createdAt: Date,
    retentionSeconds: number,
  ): Promise<Date | null> {
    if (opts.startAt === 'new') {
      // Google Cloud starts a new subscription at its creation. The emulator hands it the
      // topic's whole retained backlog instead, and seeks by whole seconds only: wait for
      // the next whole second, so the seek drops exactly what came before subscribe().
      if (!this.emulated) return null;
      const next = Math.ceil(Date.now() / 1000) * 1000;
      await sleep(next - Date.now());
      return new Date(next);
    }
    // Without topic retention there is nothing before the creation to reach back to.
    if (retentionSeconds <= 60) return null;
    // A minute inside the retention window, so the service does not refuse the time.
    return new Date(createdAt.getTime() - (retentionSeconds - 60) * 1000);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subs].map((s) => s.close()));
    await this.client.close();
  }
}

class PubSubSubscription implements Subscription {
  private readonly queue: Message[] = [];
  private running = false;
  private stopping = false;
  private current: Promise<void> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly bus: PubSubBus,
    private readonly opts: SubscribeOptions,
    private readonly handler: (d: Delivery) => Promise<void>,
    private readonly handle: PubSubSubscriptionHandle,
    private readonly onClose: () => void,
  ) {
    handle.on('message', (m: Message) => {
      if (this.stopping) {
        m.nack();
        return;
      }
      this.queue.push(m);
      this.pump();
    });
    handle.on('error', (err: unknown) =>
      bus.warn(`subscription "${opts.name}": ${reason(err)} (retrying)`),
    );
  }

  /** One delivery at a time per subscription, like the other adapters. */
  private pump(): void {
    if (this.running) return;
    this.running = true;
    this.current = (async () => {
      try {
        for (let m = this.queue.shift(); m !== undefined; m = this.queue.shift()) {
          if (this.stopping) m.nack();
          else await this.handle1(m);
        }
      } finally {
        this.running = false;
      }
    })();
  }

  private async handle1(m: Message): Promise<void> {
    let event: CloudEvent;
    try {
      event = decodeEvent(m.data);
    } catch (err) {
      this.bus.warn(`dropping message ${m.id}: ${reason(err)}`);
      m.ack();
      return;
    }
    const prefix = this.opts.typePrefix;
    if (prefix !== undefined && !event.type.startsWith(prefix)) {
      m.ack();
      return;
    }
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      return true;
    };
    const delivery: Delivery = {
      event,
      ack: async () => {
        if (settle()) await m.ackWithResponse();
      },
      nack: async () => {
        if (settle()) await m.nackWithResponse();
      },
    };
    try {
      await this.handler(delivery);
    } catch {
      await delivery.nack();
    }
    if (!settled) {
      // The client library would extend the lease for up to an hour; keep the deadline promise.
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void delivery.nack();
      }, this.bus.ackDeadlineSeconds * 1000);
      timer.unref();
      this.timers.add(timer);
    }
  }

  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.current;
    for (const t of this.timers) clearTimeout(t);
    for (const m of this.queue.splice(0)) m.nack();
    // Sends the acks still batched and nacks what is held, so it comes back at once.
    await this.handle.close();
    this.onClose();
  }
}

export function createPubSubBus(opts: PubSubBusOptions): PubSubBus {
  return new PubSubBus(opts);
}
