import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import {
  ReceiverEstimatedMaxBitrate,
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  useH264,
  useNACK,
  useOPUS,
  usePLI,
  useREMB,
  useVP8,
  type MediaStreamTrack,
  type RTCRtpTransceiver,
  type RtpPacket,
} from 'werift';
import { ArrivalLag } from './arrival-lag.ts';
import { ArrivalLoss } from './arrival-loss.ts';
import { prepareOffer, type ChosenCodec, type MediaKind, type PreparedOffer } from './offer.ts';
import { startsPicture } from './picture-start.ts';
import { installWeriftFastPath } from './werift-fast-path.ts';

// TAPEDECK_WERIFT_FAST_PATH=0 keeps werift's own per-packet code: for comparing, or a way out.
if (process.env['TAPEDECK_WERIFT_FAST_PATH'] !== '0') installWeriftFastPath();

const LOOPBACK = '127.0.0.1';

export interface RtpTarget {
  port: number;
  /** Defaults to 127.0.0.1; recorders live on the same node. */
  host?: string;
}

export interface WeriftSessionOptions {
  /** The publisher's SDP offer, as received. */
  offer: string;
  /**
   * Where each kind's RTP goes at first; addTarget and removeTarget change it later. A kind
   * without a target is received and dropped.
   */
  forward: Partial<Record<MediaKind, RtpTarget | RtpTarget[]>>;
  /** Keep ICE and candidates on 127.0.0.1 (tests, benchmarks). Default true. */
  loopbackOnly?: boolean;
  /** Bitrate advertised in REMB, bits/s. Default 4 Mbit/s: above any host profile. */
  rembBps?: number;
  /** UDP receive buffer of the ICE sockets. Default 4 MiB: a burst of joins loses DTLS packets with less. */
  receiveBufferBytes?: number;
  /** Give up when ICE + DTLS are not connected by then. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Fail the session when no RTP at all arrived for this long. Default 5 s. werift's
   * own ICE consent check took 25 s to notice a killed publisher, far beyond the
   * reconnect grace period.
   */
  mediaTimeoutMs?: number;
  /**
   * Video received in this first stretch is not forwarded; a keyframe is asked for when
   * forwarding starts. Default 0: right after DTLS the first packets arrive in a burst, which a
   * jitter buffer following the sender's clock hands on partly without timestamps, and the
   * recorders' camera branches drop or time those frames themselves (videorate), so holding
   * video back only delayed the first picture and the join by as much.
   */
  videoSettleMs?: number;
  /**
   * Sees each packet of a kind, serialized, before it goes to the recorders; may change it in
   * place, and drops it by returning false.
   */
  beforeForward?: Partial<Record<MediaKind, (datagram: Buffer) => boolean>>;
}

export interface SessionTrack {
  kind: MediaKind;
  codec: ChosenCodec;
}

export interface WeriftSessionEvents {
  track: [SessionTrack];
  connected: [];
  /** First RTP packet of a kind was forwarded; ms since start() was called. */
  'first-rtp': [MediaKind, number];
  failed: [Error];
  closed: [];
}

/** One forwarded track: the socket that sends RTP also hears the recorders' RTCP. */
interface Forwarder {
  kind: MediaKind;
  socket: Socket;
  /**
   * Every recorder that takes this track gets its own copy of each packet. UDP never waits for a
   * reader, so a slow recorder loses packets in its own socket buffer and stalls nobody else.
   */
  targets: ForwardTarget[];
  /** Date.now() of the last packet received from the publisher, 0 before the first. */
  lastPacketAt: number;
  /** Date.now() of the first packet forwarded that begins a decodable picture, 0 before it. */
  firstPictureAt: number;
  track?: MediaStreamTrack;
  transceiver?: RTCRtpTransceiver;
  packets: number;
  bytes: number;
  arrivals: ArrivalLoss;
  /** Sound only: how much later than its RTP time it comes (see ArrivalLag). */
  lag?: ArrivalLag;
  /** RTCP datagrams the recorder sent back, and how many asked for a keyframe. */
  feedback: number;
  keyframeRequests: number;
  /** performance.now() from which video is forwarded. */
  settledAt?: number;
  /** Video has started to go to the recorders. */
  forwarding?: boolean;
}

/**
 * A recorder's copy goes out through a socket connected to it: the kernel then looks up the route
 * once, not per datagram, and a send cost 7.4-8.1 µs of CPU instead of 9.9-10.1 µs in a
 * micro-benchmark. Until the connect completes, the forwarder's own socket sends it.
 */
interface ForwardTarget extends Required<RtpTarget> {
  out: Socket;
  connected: boolean;
}

function forwardTarget(t: RtpTarget): ForwardTarget {
  const target: ForwardTarget = {
    port: t.port,
    host: t.host ?? LOOPBACK,
    out: createSocket('udp4'),
    connected: false,
  };
  // A recorder that is not listening yet makes the kernel report ECONNREFUSED on a later send;
  // that is expected at start and must not kill the process.
  target.out.on('error', () => undefined);
  target.out.connect(target.port, target.host, () => (target.connected = true));
  return target;
}

function closeTarget(t: ForwardTarget): void {
  t.connected = false;
  try {
    t.out.close();
  } catch {
    // Already closed.
  }
}

export interface ForwardCounters {
  packets: number;
  bytes: number;
  /** Packets the publisher sent that never reached the ingest (gaps in sequence numbers). */
  lost: number;
  /** Sound only: how much later than its RTP time it reached the ingest, now and at worst (ms). */
  lateMs?: { now: number; worst: number };
  /** Date.now() of the last packet from the publisher, 0 before the first. */
  lastPacketAt: number;
  /** Date.now() of the first picture forwarded (a keyframe's first packet), 0 before it. */
  firstPictureAt: number;
  feedback: number;
  keyframeRequests: number;
}

/** The part of werift's ICE connection that runs consent freshness. */
interface ConsentInternals {
  queryConsent: () => void;
  stopConsentLifecycle: () => void;
  consentFresh: boolean;
}

const RTCP_PSFB = 206;
const PSFB_PLI = 1;
const PSFB_FIR = 4;
const REMB_PERIOD_MS = 1000;
const KEYFRAME_RETRY_MS = [400, 1200];

/** True when a (compound) RTCP datagram holds a PLI or FIR: a recorder wants a keyframe. */
export function asksForKeyframe(datagram: Buffer): boolean {
  let offset = 0;
  while (offset + 4 <= datagram.length) {
    const first = datagram[offset]!;
    const packetType = datagram[offset + 1]!;
    if (first >> 6 !== 2) return false;
    const fmt = first & 0x1f;
    if (packetType === RTCP_PSFB && (fmt === PSFB_PLI || fmt === PSFB_FIR)) return true;
    offset += (datagram.readUInt16BE(offset + 2) + 1) * 4;
  }
  return false;
}

/** REMB's bitrate is an 18-bit mantissa times a power of two. */
function rembFields(bps: number): { brExp: number; brMantissa: number } {
  let mantissa = Math.max(0, Math.floor(bps));
  let exp = 0;
  while (mantissa >= 1 << 18) {
    mantissa = Math.floor(mantissa / 2);
    exp += 1;
  }
  return { brExp: exp, brMantissa: mantissa };
}

/**
 * Terminates one publisher's WebRTC session with werift and forwards each track's RTP,
 * decrypted, to a loopback UDP port where a GStreamer recorder listens.
 *
 * Keyframes: a PLI goes out when a track starts and whenever requestKeyframe() is called;
 * RTCP sent back by the recorder to feedbackPort() is scanned for PLI/FIR and relayed.
 */
export class WeriftSession extends EventEmitter<WeriftSessionEvents> {
  readonly prepared: PreparedOffer;
  // Held for the session's lifetime: werift's objects are reachable only from
  // callbacks otherwise, and node sockets must not be collected mid-stream.
  private readonly pc: RTCPeerConnection;
  private readonly forwarders = new Map<MediaKind, Forwarder>();
  private readonly subscriptions: { unSubscribe(): void }[] = [];
  private readonly options: Required<
    Omit<WeriftSessionOptions, 'forward' | 'offer' | 'beforeForward'>
  >;
  private rembTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private mediaTimer: NodeJS.Timeout | undefined;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private lastRtpAt = 0;
  private startedAt = 0;
  private state: 'new' | 'starting' | 'connected' | 'closed' = 'new';

  /** Throws MalformedOfferError / NoRecordableCodecError before any socket is opened. */
  constructor(private readonly init: WeriftSessionOptions) {
    super();
    this.options = {
      loopbackOnly: init.loopbackOnly ?? true,
      rembBps: init.rembBps ?? 4_000_000,
      receiveBufferBytes: init.receiveBufferBytes ?? 4 * 1024 * 1024,
      connectTimeoutMs: init.connectTimeoutMs ?? 10_000,
      mediaTimeoutMs: init.mediaTimeoutMs ?? 5_000,
      videoSettleMs: init.videoSettleMs ?? 0,
    };
    this.prepared = prepareOffer(init.offer, { loopbackOnly: this.options.loopbackOnly });
    const loopback = this.options.loopbackOnly;
    this.pc = new RTCPeerConnection({
      // werift's default STUN server would send traffic off the machine.
      iceServers: [],
      // Host addresses come only from iceAdditionalHostAddresses when both are off.
      iceUseIpv4: !loopback,
      iceUseIpv6: false,
      iceAdditionalHostAddresses: loopback ? [LOOPBACK] : undefined,
      iceInterfaceAddresses: loopback ? { udp4: LOOPBACK } : undefined,
      iceFilterCandidatePair: loopback
        ? (pair) => pair.remoteCandidate.host === LOOPBACK
        : undefined,
      bundlePolicy: 'max-bundle',
      codecs: {
        video: [useH264({ rtcpFeedback: [useNACK(), usePLI(), useREMB()] }), useVP8()],
        audio: [useOPUS()],
      },
      // No header extensions: without transport-wide-cc werift runs no TWCC.
      headerExtensions: { video: [], audio: [] },
    });
  }

  /** The RTP forwarding socket's port for a kind: send the recorder's RTCP here. */
  feedbackPort(kind: MediaKind): number | undefined {
    const f = this.forwarders.get(kind);
    return f ? f.socket.address().port : undefined;
  }

  /** What went to and came back from each kind's recorder so far. */
  counters(): Partial<Record<MediaKind, ForwardCounters>> {
    const out: Partial<Record<MediaKind, ForwardCounters>> = {};
    for (const [kind, f] of this.forwarders) {
      const { packets, bytes, feedback, keyframeRequests, lastPacketAt, firstPictureAt } = f;
      const lost = f.arrivals.lost;
      out[kind] = {
        packets,
        bytes,
        lost,
        ...(f.lag ? { lateMs: { now: f.lag.currentMs, worst: f.lag.worstMs } } : {}),
        feedback,
        keyframeRequests,
        lastPacketAt,
        firstPictureAt,
      };
    }
    return out;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Applies the offer and returns the SDP answer, with every candidate gathered. */
  async start(): Promise<string> {
    if (this.state !== 'new') throw new Error(`session already ${this.state}`);
    this.state = 'starting';
    this.startedAt = performance.now();
    try {
      await this.openForwarders();
      this.watchPeer();
      await this.pc.setRemoteDescription({ type: 'offer', sdp: this.prepared.sdp });
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      await this.gathered();
      this.enlargeReceiveBuffers();
      this.consentFromMedia();
      this.connectTimer = setTimeout(
        () => this.fail(new Error(`not connected within ${this.options.connectTimeoutMs} ms`)),
        this.options.connectTimeoutMs,
      );
      const local = this.pc.localDescription;
      if (!local) throw new Error('werift produced no local description');
      return local.sdp;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Sends a copy of the kind's RTP to one more recorder, and asks for a keyframe it can start on. */
  addTarget(kind: MediaKind, target: RtpTarget): void {
    const f = this.forwarders.get(kind);
    if (!f) return;
    const host = target.host ?? LOOPBACK;
    if (!f.targets.some((x) => x.port === target.port && x.host === host))
      f.targets.push(forwardTarget(target));
    if (kind === 'video') this.requestKeyframeSoon();
  }

  /**
   * A new recorder can only start on a keyframe that carries the parameter sets. Publishers
   * throttle keyframe requests (GStreamer's RTP session drops one that follows another closely,
   * and two recorders often attach together), so the request is repeated a few times.
   */
  requestKeyframeSoon(): void {
    this.requestKeyframe();
    for (const ms of KEYFRAME_RETRY_MS) {
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.requestKeyframe();
      }, ms);
      this.retryTimers.add(timer);
    }
  }

  removeTarget(kind: MediaKind, target: RtpTarget): void {
    const f = this.forwarders.get(kind);
    if (!f) return;
    const host = target.host ?? LOOPBACK;
    const gone = (x: ForwardTarget) => x.port === target.port && x.host === host;
    f.targets.filter(gone).forEach(closeTarget);
    f.targets = f.targets.filter((x) => !gone(x));
  }

  /**
   * Asks the publisher for a keyframe on the video track, e.g. when a recorder starts. False when
   * no PLI could go out yet: not connected, or no video received.
   */
  requestKeyframe(): boolean {
    const f = this.forwarders.get('video');
    const ssrc = f?.track?.ssrc;
    if (!f?.transceiver || ssrc === undefined || this.state !== 'connected') return false;
    void f.transceiver.receiver.sendRtcpPLI(ssrc);
    return true;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearInterval(this.rembTimer);
    clearTimeout(this.connectTimer);
    clearInterval(this.mediaTimer);
    this.retryTimers.forEach(clearTimeout);
    for (const s of this.subscriptions) s.unSubscribe();
    this.subscriptions.length = 0;
    for (const f of this.forwarders.values()) {
      f.targets.forEach(closeTarget);
      f.socket.close();
    }
    try {
      await this.pc.close();
    } finally {
      this.emit('closed');
    }
  }

  private async openForwarders(): Promise<void> {
    for (const kind of ['video', 'audio'] as const) {
      // Every offered kind gets a forwarder, targets or not: recorders may attach later, and its
      // counters tell whether media flows (no video for a while is a camera turned off).
      if (!this.prepared[kind]) continue;
      const initial = this.init.forward[kind];
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, LOOPBACK, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      const forwarder: Forwarder = {
        kind,
        socket,
        targets: (Array.isArray(initial) ? initial : initial ? [initial] : []).map(forwardTarget),
        lastPacketAt: 0,
        firstPictureAt: 0,
        packets: 0,
        bytes: 0,
        arrivals: new ArrivalLoss(),
        ...(kind === 'audio' ? { lag: new ArrivalLag(this.prepared.audio!.clockRate) } : {}),
        feedback: 0,
        keyframeRequests: 0,
      };
      // A recorder that is not listening yet makes the kernel report ECONNREFUSED on
      // the next send; that is expected at start and must not kill the process.
      socket.on('error', () => undefined);
      socket.on('message', (datagram) => {
        forwarder.feedback += 1;
        if (kind === 'video' && asksForKeyframe(datagram)) {
          forwarder.keyframeRequests += 1;
          this.requestKeyframe();
        }
      });
      this.forwarders.set(kind, forwarder);
    }
  }

  private watchPeer(): void {
    this.subscriptions.push(
      this.pc.onTrack.subscribe((track) => this.onTrack(track)),
      this.pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') this.onConnected();
        else if (state === 'failed') this.fail(new Error('peer connection failed'));
        else if (state === 'closed' && this.state !== 'closed') void this.close();
      }),
    );
  }

  private onTrack(track: MediaStreamTrack): void {
    const kind = track.kind as MediaKind;
    const codec = this.prepared[kind];
    if (!codec) return;
    this.emit('track', { kind, codec });
    const forwarder = this.forwarders.get(kind);
    if (!forwarder) {
      this.subscriptions.push(
        track.onReceiveRtp.subscribe(() => (this.lastRtpAt = performance.now())),
      );
      return;
    }
    forwarder.track = track;
    forwarder.transceiver = this.pc.getTransceivers().find((t) => t.receiver.track === track);
    this.subscriptions.push(
      track.onReceiveRtp.subscribe((rtp: RtpPacket) => {
        this.lastRtpAt = performance.now();
        forwarder.arrivals.add(rtp.header.ssrc, rtp.header.sequenceNumber);
        forwarder.lag?.add(rtp.header.ssrc, rtp.header.timestamp, this.lastRtpAt);
        const datagram = rtp.serialize();
        const now = performance.now();
        if (forwarder.packets === 0 && kind === 'video')
          forwarder.settledAt = now + this.options.videoSettleMs;
        const settled = now >= (forwarder.settledAt ?? 0);
        if (settled && kind === 'video' && !forwarder.forwarding) {
          forwarder.forwarding = true;
          // Keyframes that arrived while video was held back reached no recorder; they need
          // one from here on, and the track's SSRC is known by now.
          this.requestKeyframeSoon();
        }
        const forwarded = settled && (this.init.beforeForward?.[kind]?.(datagram) ?? true);
        if (forwarded)
          for (const t of forwarder.targets)
            if (t.connected) t.out.send(datagram);
            else forwarder.socket.send(datagram, t.port, t.host);
        forwarder.lastPacketAt = Date.now();
        // Looked for only until found, and only once a recorder takes it: later keyframes cost
        // nothing here.
        if (
          forwarded &&
          forwarder.targets.length > 0 &&
          kind === 'video' &&
          forwarder.firstPictureAt === 0 &&
          startsPicture(codec.codec, rtp.payload)
        )
          forwarder.firstPictureAt = forwarder.lastPacketAt;
        forwarder.packets += 1;
        forwarder.bytes += datagram.length;
        if (forwarder.packets === 1)
          this.emit('first-rtp', kind, performance.now() - this.startedAt);
      }),
    );
  }

  private onConnected(): void {
    if (this.state !== 'starting') return;
    this.state = 'connected';
    clearTimeout(this.connectTimer);
    this.sendRemb();
    this.rembTimer = setInterval(() => this.sendRemb(), REMB_PERIOD_MS);
    this.lastRtpAt = performance.now();
    const timeout = this.options.mediaTimeoutMs;
    this.mediaTimer = setInterval(
      () => {
        if (performance.now() - this.lastRtpAt > timeout)
          this.fail(new Error(`no RTP for ${timeout} ms`));
      },
      Math.min(1000, timeout),
    );
    this.emit('connected');
  }

  private sendRemb(): void {
    const video = this.forwarders.get('video') ?? undefined;
    const transceiver =
      video?.transceiver ?? this.pc.getTransceivers().find((t) => t.kind === 'video');
    const ssrcs = this.pc
      .getTransceivers()
      .flatMap((t) => t.receiver.tracks.map((tr) => tr.ssrc))
      .filter((s): s is number => s !== undefined);
    if (!transceiver || ssrcs.length === 0) return;
    const packet = new RtcpPayloadSpecificFeedback({
      feedback: new ReceiverEstimatedMaxBitrate({
        senderSsrc: transceiver.receiver.rtcpSsrc,
        mediaSsrc: 0,
        ssrcNum: ssrcs.length,
        ssrcFeedbacks: ssrcs,
        bitrate: BigInt(this.options.rembBps),
        ...rembFields(this.options.rembBps),
      }),
    });
    transceiver.receiver.dtlsTransport.sendRtcp([packet]).catch(() => undefined);
  }

  private async gathered(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return;
    await new Promise<void>((resolve) => {
      const sub = this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') {
          sub.unSubscribe();
          resolve();
        }
      });
    });
  }

  /**
   * Liveness from the media instead of werift's own consent checks (RFC 7675). werift gives each
   * check's answer at most 2 RTTs + 200 ms (0.5 s at least) and ends the session after 30 s
   * without one. The answer comes in on the socket the RTP comes in on, behind it: on a node whose
   * ingest falls behind by a second, every check times out although the publisher answers them
   * all, and after 30 s every host of every livestream was cut off at once (seen with three
   * livestreams on two cores). This session only receives media, sending a little RTCP; a
   * publisher that is gone shows as no RTP within mediaTimeoutMs (5 s, not 30), and a browser
   * checks its own consent to send to us. If werift's shape is not the expected one, its own
   * checks stay.
   */
  private consentFromMedia(): void {
    for (const transport of this.pc.iceTransports) {
      const c = transport.connection as unknown as Partial<ConsentInternals>;
      if (typeof c.queryConsent !== 'function' || typeof c.stopConsentLifecycle !== 'function')
        continue;
      const stop = c.stopConsentLifecycle.bind(c);
      c.queryConsent = () => {
        stop();
        // What werift requires before it sends anything (RTCP included) on the pair.
        c.consentFresh = true;
      };
    }
  }

  /** Consent requests werift sent on the selected pairs: none while consentFromMedia holds. */
  consentRequestsSent(): number {
    let sent = 0;
    for (const transport of this.pc.iceTransports) {
      const c = transport.connection as unknown as { nominated?: { consentRequestsSent?: number } };
      sent += c.nominated?.consentRequestsSent ?? 0;
    }
    return sent;
  }

  /** werift opens the ICE sockets itself and has no option for their buffer size. */
  private enlargeReceiveBuffers(): void {
    for (const transport of this.pc.iceTransports) {
      const connection = transport.connection as unknown as {
        protocols?: { transport?: { socket?: Socket } }[];
      };
      for (const protocol of connection.protocols ?? []) {
        try {
          protocol.transport?.socket?.setRecvBufferSize(this.options.receiveBufferBytes);
        } catch {
          // Capped by net.core.rmem_max; the kernel's default still works, just less well.
        }
      }
    }
  }

  private fail(error: Error): void {
    if (this.state === 'closed') return;
    this.emit('failed', error);
    void this.close();
  }
}
