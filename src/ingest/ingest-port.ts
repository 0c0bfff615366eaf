import type { HostPresence } from '../domain/host-presence.ts';
import type { Size } from '../domain/profile.ts';
import type { HostMedia, IngestHostEvent, LiveIngest } from './live-ingest.ts';
import type { MediaKind } from './rtc/offer.ts';
import type { RtpTarget } from './rtc/werift-session.ts';

export interface HostSnapshot {
  hostId: string;
  presence: HostPresence;
  /** Codecs of the host's current or last publish; null before its first. */
  media: HostMedia | null;
}

/** Loopback UDP ports a recorder listens on for one host. */
export type RecorderPorts = Partial<Record<MediaKind, number>>;

/** Which recording asks for a host's shared picture. */
export type PictureReader = 'composite' | 'host';

/**
 * A host's picture shared on the node: the loopback port its frames are read from. With `serve`,
 * the asker (the host's own recording, on a node that serves tiles) decodes the host's RTP itself
 * and serves the frames on that port instead, scaled to `serve`.
 */
export interface SharedVideoGrant {
  framesPort: number;
  serve?: Size;
}

/** What shares pictures on a node: its shared decoders, or its host recordings' tiles. */
export interface SharedVideoSource {
  /**
   * The host's picture decoded once on this node for all its recordings here, at `fps` frames a
   * second; null when the node has recordings decode their own copy (the default), or the host
   * sends no video.
   */
  sharedVideo(
    livestreamId: string,
    hostId: string,
    fps: number,
    reader: PictureReader,
  ): Promise<SharedVideoGrant | null>;
}

export interface Subscription {
  close(): void;
}

/**
 * What a recorder needs from the ingest of its node, wherever it runs: the hosts as they are
 * now, their events from then on, and copies of their RTP. Recorders attach under an owner name,
 * so a restarted recorder replaces its own earlier ports instead of adding to them.
 */
export interface IngestPort extends SharedVideoSource {
  hosts(livestreamId: string): Promise<HostSnapshot[]>;
  attach(livestreamId: string, hostId: string, owner: string, ports: RecorderPorts): Promise<void>;
  detach(livestreamId: string, hostId: string, owner: string): Promise<void>;
  /** Where recorders send RTCP (PLI/FIR) for this host; the same across its sessions. */
  feedbackPort(livestreamId: string, hostId: string): Promise<number>;
  /**
   * Whether this node shares pictures (shared decoders or host tiles): a composite then knows
   * before it starts that its hosts' pictures will come that way, and waits for them from the
   * first frame.
   */
  sharesDecoding(): Promise<boolean>;
  /** Calls onSnapshot with every host first (again after a reconnect), then onEvent per event. */
  follow(
    livestreamId: string,
    handlers: {
      onSnapshot: (hosts: HostSnapshot[]) => void;
      onEvent: (e: IngestHostEvent) => void;
      onError?: (err: Error) => void;
    },
  ): Subscription;
}

/** The port over a LiveIngest in the same process. */
export class LocalIngestPort implements IngestPort {
  private readonly owners = new Map<string, (() => void)[]>();

  constructor(
    private readonly ingest: LiveIngest,
    private readonly decoders: SharedVideoSource | null = null,
  ) {}

  hosts(livestreamId: string): Promise<HostSnapshot[]> {
    return Promise.resolve(this.ingest.snapshot(livestreamId));
  }

  async attach(
    livestreamId: string,
    hostId: string,
    owner: string,
    ports: RecorderPorts,
  ): Promise<void> {
    await this.detach(livestreamId, hostId, owner);
    const detachers: (() => void)[] = [];
    for (const [kind, port] of Object.entries(ports) as [MediaKind, number | undefined][]) {
      if (port === undefined) continue;
      const target: RtpTarget = { port };
      detachers.push(this.ingest.attach(livestreamId, hostId, kind, target));
    }
    this.owners.set(ownerKey(livestreamId, hostId, owner), detachers);
  }

  detach(livestreamId: string, hostId: string, owner: string): Promise<void> {
    const key = ownerKey(livestreamId, hostId, owner);
    this.owners.get(key)?.forEach((d) => d());
    this.owners.delete(key);
    return Promise.resolve();
  }

  feedbackPort(livestreamId: string, hostId: string): Promise<number> {
    return this.ingest.feedbackPort(livestreamId, hostId);
  }

  sharedVideo(livestreamId: string, hostId: string, fps: number, reader: PictureReader) {
    return this.decoders?.sharedVideo(livestreamId, hostId, fps, reader) ?? Promise.resolve(null);
  }

  sharesDecoding(): Promise<boolean> {
    return Promise.resolve(this.decoders !== null);
  }

  follow(
    livestreamId: string,
    handlers: {
      onSnapshot: (hosts: HostSnapshot[]) => void;
      onEvent: (e: IngestHostEvent) => void;
    },
  ): Subscription {
    const listener = (e: IngestHostEvent) => {
      if (e.livestreamId === livestreamId) handlers.onEvent(e);
    };
    this.ingest.on('host', listener);
    handlers.onSnapshot(this.ingest.snapshot(livestreamId));
    return { close: () => this.ingest.off('host', listener) };
  }
}

function ownerKey(livestreamId: string, hostId: string, owner: string): string {
  return `${livestreamId}/${hostId}/${owner}`;
}
