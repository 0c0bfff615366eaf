import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  StorageType,
} from '@nats-io/jetstream';
import { connect, headers, nanos, type NatsConnection } from '@nats-io/transport-node';

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

export interface NatsBusOptions {
  /** host:port */
  server: string;
  user?: string;
  pass?: string;
  stream?: string;
  /** Within this window the server drops a second publish of the same event id. */
  duplicateWindowMs?: number;
  /** How long the stream keeps events when this bus creates it; 0 keeps them for ever. */
  maxAgeMs?: number;
  /** A delivery not acked within this time comes again. */
  ackWaitMs?: number;
  /** A nacked delivery (or one whose handler threw) comes again after this long. */
  redeliverDelayMs?: number;
  /** Bound on connecting, on waiting for the server's PubAck and on API calls. */
  timeoutMs?: number;
  /** Messages pulled ahead of the handler per subscription. */
  maxInFlight?: number;
  onWarning?: (message: string) => void;
}

const SUBJECT_ROOT = 'tapedeck';

/** NATS subjects cannot hold whitespace, wildcards or empty tokens. */
function tokens(s: string): string {
  return s
    .split('.')
    .map((t) => (t === '' ? '_' : t.replace(/[\s*>]/g, '_')))
    .join('.');
}

export function subjectFor(type: string): string {
  return type.startsWith(`${SUBJECT_ROOT}.`) ? tokens(type) : `${SUBJECT_ROOT}.${tokens(type)}`;
}

/**
 * The narrowest subject filter that still lets every type with this prefix through:
 * the prefix cut back to its last whole token. The rest is checked on arrival.
 */
export function subjectFilterFor(typePrefix: string | undefined): string {
  const cut = (typePrefix ?? '').slice(0, (typePrefix ?? '').lastIndexOf('.') + 1);
  if (cut === '' || cut === `${SUBJECT_ROOT}.`) return `${SUBJECT_ROOT}.>`;
  return `${subjectFor(cut.slice(0, -1))}.>`;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isNotFound(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

interface Ready {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

export class NatsBus implements MessageBus {
  readonly describe: string;
  readonly stream: string;
  private readonly timeoutMs: number;
  private readonly ackWaitMs: number;
  readonly redeliverDelayMs: number;
  readonly maxInFlight: number;
  readonly warn: (message: string) => void;
  private ready: Promise<Ready> | null = null;
  private nc: NatsConnection | null = null;
  private connected = false;
  private closing = false;
  private readonly subs = new Set<NatsSubscription>();

  constructor(private readonly opts: NatsBusOptions) {
    this.describe = `nats://${opts.server}`;
    this.stream = opts.stream ?? 'TAPEDECK';
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.ackWaitMs = opts.ackWaitMs ?? 30_000;
    this.redeliverDelayMs = opts.redeliverDelayMs ?? 1_000;
    this.maxInFlight = opts.maxInFlight ?? 16;
    this.warn = opts.onWarning ?? ((m) => console.warn(`tapedeck bus: ${m}`));
  }

  /** One connection, made on first use; it then reconnects by itself for as long as the bus is open. */
  private connection(): Promise<Ready> {
    if (this.closing) return Promise.reject(new BusError(`${this.describe} is closed`, false));
    this.ready ??= this.connectNow().catch((err: unknown) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  private async connectNow(): Promise<Ready> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: this.opts.server,
        name: 'tapedeck',
        user: this.opts.user,
        pass: this.opts.pass,
        timeout: this.timeoutMs,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1_000,
        // The first server answers for the cluster; never dial addresses it advertises.
        ignoreClusterUpdates: true,
      });
    } catch (err) {
      throw new BusError(
        `cannot reach NATS at ${this.describe}: ${reason(err)} (is nats-server running with -js?)`,
        true,
        { cause: err },
      );
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: this.timeoutMs });
      await this.ensureStream(jsm);
      this.nc = nc;
      this.connected = true;
      void this.watch(nc);
      return { nc, jsm, js: jetstream(nc, { timeout: this.timeoutMs }) };
    } catch (err) {
      await nc.close().catch(() => undefined);
      if (err instanceof BusError) throw err;
      if (err instanceof Error && err.name === 'JetStreamNotEnabled') {
        throw new BusError(
          `NATS at ${this.describe} has no JetStream: start nats-server with -js ` +
            '(and -sd DIR to keep the stream on disk)',
          false,
          { cause: err },
        );
      }
      throw new BusError(`NATS at ${this.describe}: ${reason(err)}`, true, { cause: err });
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (nc !== this.nc) break;
      if (s.type === 'disconnect') {
        this.connected = false;
        if (!this.closing) this.warn(`lost ${this.describe}; reconnecting`);
      } else if (s.type === 'reconnect') {
        this.connected = true;
      }
    }
    // Closed for good (not by us): the next call connects afresh.
    if (!this.closing && nc === this.nc) {
      this.nc = null;
      this.connected = false;
      this.ready = null;
    }
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    try {
      const info = await jsm.streams.info(this.stream);
      const subjects = info.config.subjects ?? [];
      if (!subjects.includes(`${SUBJECT_ROOT}.>`)) {
        throw new BusError(
          `stream ${this.stream} on ${this.describe} does not take ${SUBJECT_ROOT}.> ` +
            `(it has ${subjects.join(', ') || 'no subjects'}): pick another stream name`,
          false,
        );
      }
    } catch (err) {
      if (!isNotFound(err, JetStreamApiCodes.StreamNotFound)) throw err;
      await jsm.streams.add({
        name: this.stream,
        subjects: [`${SUBJECT_ROOT}.>`],
        storage: StorageType.File,
        duplicate_window: nanos(this.opts.duplicateWindowMs ?? 120_000),
        max_age: nanos(this.opts.maxAgeMs ?? 7 * 24 * 3600_000),
      });
    }
  }

  async check(): Promise<void> {
    const { jsm } = await this.connection();
    if (!this.connected) throw new BusError(`NATS at ${this.describe} is unreachable`, true);
    try {
      await jsm.streams.info(this.stream);
    } catch (err) {
      throw new BusError(`NATS at ${this.describe}: ${reason(err)}`, true, { cause: err });
    }
  }

  async publish(event: CloudEvent): Promise<void> {
    assertPublishable(event);
    const { js } = await this.connection();
    // While reconnecting the client would only queue the message: fail now, let the caller retry.
    if (!this.connected) throw new BusError(`NATS at ${this.describe} is unreachable`, true);
    const h = headers();
    h.set('ce-type', event.type);
    try {
      await js.publish(subjectFor(event.type), encodeEvent(event), {
        msgID: event.id,
        headers: h,
        timeout: this.timeoutMs,
      });
    } catch (err) {
      throw new BusError(`publish to ${this.describe} failed: ${reason(err)}`, true, {
        cause: err,
      });
    }
  }

  async subscribe(
    opts: SubscribeOptions,
    handler: (d: Delivery) => Promise<void>,
  ): Promise<Subscription> {
    assertId('subscription name', opts.name);
    const { js, jsm } = await this.connection();
    const filter = subjectFilterFor(opts.typePrefix);
    try {
      await this.ensureConsumer(jsm, opts, filter);
      const consumer = await js.consumers.get(this.stream, opts.name);
      const messages = await consumer.consume({ max_messages: this.maxInFlight });
      const sub = new NatsSubscription(this, opts, handler, messages, () => this.subs.delete(sub));
      this.subs.add(sub);
      if (!opts.transient) return sub;
      return {
        close: async () => {
          await sub.close();
          await jsm.consumers.delete(this.stream, opts.name).catch(() => undefined);
        },
      };
    } catch (err) {
      if (err instanceof BusError) throw err;
      throw new BusError(`subscribe "${opts.name}" on ${this.describe}: ${reason(err)}`, true, {
        cause: err,
      });
    }
  }

  private async ensureConsumer(
    jsm: JetStreamManager,
    opts: SubscribeOptions,
    filter: string,
  ): Promise<void> {
    try {
      const info = await jsm.consumers.info(this.stream, opts.name);
      const had = info.config.filter_subject ?? `${SUBJECT_ROOT}.>`;
      if (had !== filter) {
        throw new BusError(
          `subscription "${opts.name}" already exists for ${had}, not ${filter}: ` +
            'use another name for another type prefix',
          false,
        );
      }
      if (info.config.ack_wait !== nanos(this.ackWaitMs)) {
        await jsm.consumers.update(this.stream, opts.name, { ack_wait: nanos(this.ackWaitMs) });
      }
    } catch (err) {
      if (!isNotFound(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
      await jsm.consumers.add(this.stream, {
        durable_name: opts.name,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(this.ackWaitMs),
        deliver_policy: opts.startAt === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
        filter_subject: filter,
        max_deliver: -1,
        // A one-off reader that dies without closing must not leave its consumer behind.
        ...(opts.transient ? { inactive_threshold: nanos(3_600_000) } : {}),
      });
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.all([...this.subs].map((s) => s.close()));
    const ready = await this.ready?.catch(() => null);
    await ready?.nc.close().catch(() => undefined);
  }
}

class NatsSubscription implements Subscription {
  private stopping = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly bus: NatsBus,
    private readonly opts: SubscribeOptions,
    private readonly handler: (d: Delivery) => Promise<void>,
    private readonly messages: ConsumerMessages,
    private readonly onClose: () => void,
  ) {
    this.loop = this.run().catch((err: unknown) =>
      bus.warn(`subscription "${opts.name}" stopped: ${reason(err)}`),
    );
  }

  private async run(): Promise<void> {
    for await (const m of this.messages) {
      // Pulled but not handed out: give it back at once rather than after the ack wait.
      if (this.stopping) {
        m.nak();
        continue;
      }
      let event: CloudEvent;
      try {
        event = decodeEvent(m.data);
      } catch (err) {
        this.bus.warn(`dropping message ${m.seq} on ${m.subject}: ${reason(err)}`);
        m.term();
        continue;
      }
      const prefix = this.opts.typePrefix;
      if (prefix !== undefined && !event.type.startsWith(prefix)) {
        m.ack();
        continue;
      }
      await this.deliver(m, event);
    }
  }

  private async deliver(m: JsMsg, event: CloudEvent): Promise<void> {
    let settled = false;
    const delivery: Delivery = {
      event,
      ack: async () => {
        if (settled) return;
        settled = true;
        let ok = false;
        try {
          ok = await m.ackAck();
        } catch (err) {
          throw new BusError(`ack on ${this.bus.describe} failed; it will come again`, true, {
            cause: err,
          });
        }
        if (!ok) throw new BusError(`ack on ${this.bus.describe} not confirmed`, true);
      },
      nack: async () => {
        if (settled) return;
        settled = true;
        m.nak(this.bus.redeliverDelayMs);
      },
    };
    try {
      await this.handler(delivery);
    } catch {
      await delivery.nack();
    }
  }

  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.messages.close();
    await this.loop;
    this.onClose();
  }
}

export function createNatsBus(opts: NatsBusOptions): NatsBus {
  return new NatsBus(opts);
}
