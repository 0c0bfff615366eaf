import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import {
  applySignal,
  DEFAULT_PRESENCE_RULES,
  initialPresence,
  type HostEvent,
  type HostPresence,
  type HostSignal,
  type PresenceRules,
} from '../domain/host-presence.ts';
import { assertId } from '../domain/ids.ts';
import type { ChosenCodec, MediaKind } from './rtc/offer.ts';
import { RtpContinuity } from './rtc/rtp-continuity.ts';
import {
  asksForKeyframe,
  WeriftSession,
  type RtpTarget,
  type WeriftSessionOptions,
} from './rtc/werift-session.ts';
import { AlreadyPublishingError, AtCapacityError, type SessionBackend } from './whip/backend.ts';

/** The codecs a host's current publish carries; null for a kind it does not send. */
export interface HostMedia {
  video: ChosenCodec | null;
  audio: ChosenCodec | null;
}

export interface IngestHostEvent {
  livestreamId: string;
  event: HostEvent;
  /** The host's media for joined and resumed: what its recorders must decode. */
  media?: HostMedia;
}

export interface LiveIngestEvents {
  host: [IngestHostEvent];
  /** A session that failed: logged by the owner, never fatal. */
  warning: [string];
}

export interface LiveIngestOptions {
  rules?: PresenceRules;
  /** How often media arrival and the grace period are checked. Default 100 ms. */
  tickMs?: number;
  /** Keep ICE on 127.0.0.1 (tests, demo, benchmarks). Default true. */
  loopbackOnly?: boolean;
  /** Publishers this process takes at once; more get 503. Default 64. */
  maxSessions?: number;
  session?: Pick<WeriftSessionOptions, 'connectTimeoutMs' | 'mediaTimeoutMs' | 'rembBps'>;
}

type Targets = Record<MediaKind, RtpTarget[]>;

/** What a host's recorders sent back to its feedback port. */
export interface FeedbackCounters {
  /** RTCP datagrams received. */
  feedback: number;
  /** Those that asked for a keyframe (PLI or FIR). */
  keyframeRequests: number;
  /** Keyframe requests that went on to the publisher as a PLI; none while the host is away. */
  keyframesRelayed: number;
}

interface HostFeedback {
  socket: Socket;
  port: Promise<number>;
  counters: FeedbackCounters;
}

/** Every recordable video codec (H.264, VP8) runs a 90 kHz RTP clock. */
const VIDEO_CLOCK_RATE = 90_000;

interface HostSlot {
  presence: HostPresence;
  session: WeriftSession | null;
  sessionId: string | null;
  media: HostMedia | null;
  /** Recorders that take this host's media; they outlive a session, so a rejoin finds them. */
  targets: Targets;
  lastVideoAt: number;
  lastAudioAt: number;
  /** The current session's first picture, once signalled. */
  firstPictureAt: number;
  /**
   * Where the host's recorders send RTCP. Like their ports it outlives a session, so a host that
   * publishes again gets the keyframe requests of the recorders that were already there.
   */
  feedback: HostFeedback;
  /** The host's video as one RTP stream across its sessions, which the recorders' RTCP needs. */
  video: RtpContinuity;
  /** Video packets still to be dropped on the way to the recorders; see loseVideo. */
  videoToLose: number;
  /** RTP that reached the ingest, and that was sent but never did, in the host's ended sessions. */
  arrivals: ArrivalCount;
}

export interface ArrivalCount {
  packets: number;
  lost: number;
  /**
   * How much later than its RTP time the host's sound reached the ingest (ms): now (0 without a
   * session) and the worst of all its sessions. See ArrivalLag.
   */
  soundLateMs: { now: number; worst: number };
}

function sessionArrivals(session: WeriftSession | null): ArrivalCount {
  const c = session?.counters() ?? {};
  return {
    packets: (c.video?.packets ?? 0) + (c.audio?.packets ?? 0),
    lost: (c.video?.lost ?? 0) + (c.audio?.lost ?? 0),
    soundLateMs: c.audio?.lateMs ?? { now: 0, worst: 0 },
  };
}

/**
 * The ingest of one node: terminates each host's WHIP publish, follows what hosts do (join,
 * drop, come back, camera and microphone) and hands their RTP to every recorder that attached.
 * Recordings react to its `host` events; they never talk to WebRTC themselves.
 */
export class LiveIngest extends EventEmitter<LiveIngestEvents> implements SessionBackend {
  private readonly livestreams = new Map<string, Map<string, HostSlot>>();
  private readonly sessions = new Map<string, { livestreamId: string; hostId: string }>();
  private readonly rules: PresenceRules;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: LiveIngestOptions = {}) {
    super();
    // Every running recording follows the host events, so a node with three livestreams has
    // fifteen listeners by design, not a leak; Node's warning at eleven would only mislead.
    this.setMaxListeners(0);
    this.rules = options.rules ?? DEFAULT_PRESENCE_RULES;
    this.timer = setInterval(() => this.tick(), options.tickMs ?? 100);
  }

  openLivestream(livestreamId: string): void {
    assertId('livestream id', livestreamId);
    if (!this.livestreams.has(livestreamId)) this.livestreams.set(livestreamId, new Map());
  }

  /** Ends every publish of the livestream; hosts get `left`. */
  async closeLivestream(livestreamId: string): Promise<void> {
    const hosts = this.livestreams.get(livestreamId);
    if (!hosts) return;
    for (const [hostId, slot] of hosts) {
      if (slot.sessionId) await this.deleteSession(slot.sessionId);
      else
        this.signal(livestreamId, hostId, {
          type: 'unpublished',
          at: Date.now(),
          reason: 'delete',
        });
    }
    this.livestreams.delete(livestreamId);
    for (const slot of hosts.values()) await closeFeedback(slot.feedback);
  }

  hasLivestream(livestreamId: string): boolean {
    return this.livestreams.has(livestreamId);
  }

  isPublishing(livestreamId: string, hostId: string): boolean {
    return this.livestreams.get(livestreamId)?.get(hostId)?.session != null;
  }

  sessionOwner(sessionId: string): { livestreamId: string; hostId: string } | null {
    return this.sessions.get(sessionId) ?? null;
  }

  /** The id of the host's current WHIP session, or null. */
  sessionOf(livestreamId: string, hostId: string): string | null {
    return this.livestreams.get(livestreamId)?.get(hostId)?.sessionId ?? null;
  }

  /** Every host the livestream has seen, as it is now. */
  /**
   * Per host, the RTP packets of all its sessions so far that reached the ingest and that its
   * publishers sent but never reached it. On loopback a loss means the ingest fell behind.
   */
  arrivals(livestreamId: string): ({ hostId: string } & ArrivalCount)[] {
    const hosts = this.livestreams.get(livestreamId);
    if (!hosts) return [];
    return [...hosts].map(([hostId, slot]) => {
      const now = sessionArrivals(slot.session);
      return {
        hostId,
        packets: slot.arrivals.packets + now.packets,
        lost: slot.arrivals.lost + now.lost,
        soundLateMs: {
          now: now.soundLateMs.now,
          worst: Math.max(slot.arrivals.soundLateMs.worst, now.soundLateMs.worst),
        },
      };
    });
  }

  /** Per host, how many recorders get a copy of its video and of its audio. */
  copies(livestreamId: string): { hostId: string; video: number; audio: number }[] {
    const hosts = this.livestreams.get(livestreamId);
    if (!hosts) return [];
    return [...hosts].map(([hostId, slot]) => ({
      hostId,
      video: slot.targets.video.length,
      audio: slot.targets.audio.length,
    }));
  }

  /** Livestreams open now: from openLivestream to closeLivestream. */
  openLivestreams(): number {
    return this.livestreams.size;
  }

  snapshot(
    livestreamId: string,
  ): { hostId: string; presence: HostPresence; media: HostMedia | null }[] {
    const hosts = this.livestreams.get(livestreamId);
    if (!hosts) return [];
    return [...hosts].map(([hostId, slot]) => ({
      hostId,
      presence: { ...slot.presence },
      media: slot.media,
    }));
  }

  presence(livestreamId: string, hostId: string): HostPresence | null {
    return this.livestreams.get(livestreamId)?.get(hostId)?.presence ?? null;
  }

  async createSession(request: {
    livestreamId: string;
    hostId: string;
    offerSdp: string;
  }): Promise<{ sessionId: string; answerSdp: string }> {
    const { livestreamId, hostId } = request;
    if (!this.livestreams.has(livestreamId))
      throw new Error(`livestream ${livestreamId} is not open`);
    if (this.sessions.size >= (this.options.maxSessions ?? 64)) throw new AtCapacityError();
    const slot = this.slot(livestreamId, hostId);
    if (slot.session) throw new AlreadyPublishingError();

    const session = new WeriftSession({
      offer: request.offerSdp,
      forward: slot.targets,
      loopbackOnly: this.options.loopbackOnly ?? true,
      ...this.options.session,
      beforeForward: { video: (datagram) => forwardVideo(slot, datagram) },
    });
    const sessionId = randomBytes(16).toString('base64url');
    // Claimed before the first await so a concurrent POST for the same host is refused.
    slot.session = session;
    slot.sessionId = sessionId;
    this.sessions.set(sessionId, { livestreamId, hostId });
    let answerSdp: string;
    try {
      answerSdp = await session.start();
    } catch (err) {
      this.forget(slot, sessionId);
      throw err;
    }
    session.on('failed', (err) => {
      this.emit('warning', `${livestreamId}/${hostId}: ${err.message}`);
      if (slot.sessionId !== sessionId) return;
      this.forget(slot, sessionId);
      const reason = err.message.startsWith('no RTP') ? 'timeout' : 'ice-failed';
      this.signal(livestreamId, hostId, { type: 'unpublished', at: Date.now(), reason });
    });
    slot.media = { video: session.prepared.video ?? null, audio: session.prepared.audio ?? null };
    slot.lastVideoAt = 0;
    slot.lastAudioAt = 0;
    slot.firstPictureAt = 0;
    this.signal(livestreamId, hostId, { type: 'published', at: Date.now() });
    return { sessionId, answerSdp };
  }

  async deleteSession(sessionId: string): Promise<void> {
    const owner = this.sessions.get(sessionId);
    if (!owner) return;
    const slot = this.livestreams.get(owner.livestreamId)?.get(owner.hostId);
    if (!slot || slot.sessionId !== sessionId) return;
    const session = slot.session;
    this.forget(slot, sessionId);
    this.signal(owner.livestreamId, owner.hostId, {
      type: 'unpublished',
      at: Date.now(),
      reason: 'delete',
    });
    await session?.close();
  }

  /** What the platform backend says a host did: camera or microphone off and on. */
  control(
    livestreamId: string,
    hostId: string,
    what: 'camera-off' | 'camera-on' | 'microphone-off' | 'microphone-on',
  ): HostEvent[] {
    const slot = this.livestreams.get(livestreamId)?.get(hostId);
    if (!slot) return [];
    return this.signal(livestreamId, hostId, { type: 'control', at: Date.now(), what });
  }

  /**
   * Sends a copy of the host's RTP of one kind to a recorder's port, for this publish and any
   * later one (a host that drops and comes back reaches the same recorders). Returns the detach.
   */
  attach(livestreamId: string, hostId: string, kind: MediaKind, target: RtpTarget): () => void {
    const slot = this.slot(livestreamId, hostId);
    slot.targets[kind].push(target);
    slot.session?.addTarget(kind, target);
    return () => {
      slot.targets[kind] = slot.targets[kind].filter((t) => t !== target);
      slot.session?.removeTarget(kind, target);
    };
  }

  /**
   * The loopback UDP port where the host's recorders send their RTCP: the same for every session
   * of the host, while the livestream is open. A PLI or FIR that arrives there goes to the
   * publisher the host has then.
   */
  feedbackPort(livestreamId: string, hostId: string): Promise<number> {
    return this.slot(livestreamId, hostId).feedback.port;
  }

  feedbackCounters(livestreamId: string, hostId: string): FeedbackCounters | null {
    const counters = this.livestreams.get(livestreamId)?.get(hostId)?.feedback.counters;
    return counters ? { ...counters } : null;
  }

  /**
   * Drops the host's next `packets` video packets on the way to every recorder: real loss on
   * demand, for tests of how recorders recover from it.
   */
  loseVideo(livestreamId: string, hostId: string, packets: number): void {
    this.slot(livestreamId, hostId).videoToLose += packets;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const id of [...this.livestreams.keys()]) await this.closeLivestream(id);
  }

  /** The host's slot, made on first use: recorders may attach before the host publishes. */
  private slot(livestreamId: string, hostId: string): HostSlot {
    const hosts = this.livestreams.get(livestreamId);
    if (!hosts) throw new Error(`livestream ${livestreamId} is not open`);
    let slot = hosts.get(hostId);
    if (!slot) {
      slot = newSlot(hostId);
      hosts.set(hostId, slot);
    }
    return slot;
  }

  private forget(slot: HostSlot, sessionId: string): void {
    this.sessions.delete(sessionId);
    if (slot.sessionId !== sessionId) return;
    const ended = sessionArrivals(slot.session);
    slot.arrivals.packets += ended.packets;
    slot.arrivals.lost += ended.lost;
    slot.arrivals.soundLateMs.worst = Math.max(
      slot.arrivals.soundLateMs.worst,
      ended.soundLateMs.worst,
    );
    slot.session = null;
    slot.sessionId = null;
  }

  private signal(livestreamId: string, hostId: string, signal: HostSignal): HostEvent[] {
    const slot = this.livestreams.get(livestreamId)?.get(hostId);
    if (!slot) return [];
    const { state, events } = applySignal(slot.presence, signal, this.rules);
    slot.presence = state;
    for (const event of events) {
      const withMedia = event.type === 'joined' || event.type === 'resumed';
      this.emit('host', {
        livestreamId,
        event,
        ...(withMedia && slot.media ? { media: slot.media } : {}),
      });
    }
    return events;
  }

  /** Turns packet arrival into video signals and lets the grace period and camera timeout run. */
  private tick(): void {
    const now = Date.now();
    for (const [livestreamId, hosts] of this.livestreams) {
      for (const [hostId, slot] of hosts) {
        const counters = slot.session?.counters();
        const at = counters?.video?.lastPacketAt ?? 0;
        if (at > slot.lastVideoAt) {
          slot.lastVideoAt = at;
          this.signal(livestreamId, hostId, { type: 'video', at });
        }
        const pictureAt = counters?.video?.firstPictureAt ?? 0;
        if (pictureAt > slot.firstPictureAt) {
          slot.firstPictureAt = pictureAt;
          this.signal(livestreamId, hostId, { type: 'picture', at: pictureAt });
        }
        const audioAt = counters?.audio?.lastPacketAt ?? 0;
        if (audioAt > slot.lastAudioAt) {
          slot.lastAudioAt = audioAt;
          this.signal(livestreamId, hostId, { type: 'audio', at: audioAt });
        }
        this.signal(livestreamId, hostId, { type: 'tick', at: now });
      }
    }
  }
}

function newSlot(hostId: string): HostSlot {
  const socket = createSocket('udp4');
  const slot: HostSlot = {
    presence: initialPresence(hostId),
    session: null,
    sessionId: null,
    media: null,
    targets: { video: [], audio: [] },
    lastVideoAt: 0,
    lastAudioAt: 0,
    firstPictureAt: 0,
    feedback: {
      socket,
      port: bindLoopback(socket),
      counters: { feedback: 0, keyframeRequests: 0, keyframesRelayed: 0 },
    },
    video: new RtpContinuity(VIDEO_CLOCK_RATE),
    videoToLose: 0,
    arrivals: { packets: 0, lost: 0, soundLateMs: { now: 0, worst: 0 } },
  };
  // Awaited by whoever asks for the port; a failed bind must not go unhandled meanwhile.
  slot.feedback.port.catch(() => undefined);
  socket.on('message', (datagram) => {
    const counters = slot.feedback.counters;
    counters.feedback += 1;
    if (!asksForKeyframe(datagram)) return;
    counters.keyframeRequests += 1;
    if (slot.session?.requestKeyframe()) counters.keyframesRelayed += 1;
  });
  return slot;
}

function bindLoopback(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    // Lost feedback costs a keyframe at most; it must never take the ingest down.
    socket.on('error', () => undefined);
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket.address().port);
    });
  });
}

async function closeFeedback(feedback: HostFeedback): Promise<void> {
  // A socket whose bind failed has nothing to close.
  const bound = await feedback.port.then(
    () => true,
    () => false,
  );
  if (bound) feedback.socket.close();
}

function forwardVideo(slot: HostSlot, datagram: Buffer): boolean {
  slot.video.rewrite(datagram);
  if (slot.videoToLose === 0) return true;
  slot.videoToLose -= 1;
  return false;
}
