import { applyHostEvent, initialHostView, type HostView } from '../domain/recording-plan.ts';
import type {
  HostSnapshot,
  IngestPort,
  PictureReader,
  Subscription,
} from '../ingest/ingest-port.ts';
import type { HostMedia, IngestHostEvent } from '../ingest/live-ingest.ts';
import { isSharedVideo, type InputSpec, type RtpSource } from '../media/pipeline/spec.ts';
import type { LiveRecording } from './live-recording.ts';
import { freeUdpPort } from '../support/free-port.ts';

/** The view a snapshot gives of a host, in the same terms as its events. */
export function viewOfSnapshot(h: HostSnapshot): HostView {
  const p = h.presence;
  return {
    ...initialHostView(h.hostId),
    present: p.connection !== 'absent',
    dropped: p.connection === 'dropped',
    cameraOn: p.cameraOn,
    microphoneOn: p.microphoneOn,
  };
}

/**
 * Where a recording takes one host's media from: fresh loopback ports for its RTP, and for the
 * picture either its own decode of the RTP (with RTCP back to the ingest) or, when the node
 * shares pictures, the host's shared decoder or the tiles its own recording serves. A host's
 * recording on a node that serves tiles decodes for itself and serves them.
 */
export async function hostSource(
  ingest: IngestPort,
  livestreamId: string,
  hostId: string,
  media: HostMedia,
  kinds: 'video+audio' | 'audio',
  fps: number,
  reader: PictureReader,
): Promise<RtpSource> {
  if (kinds === 'audio' || !media.video) return rtpSourceFor(media, kinds);
  const shared = await ingest.sharedVideo(livestreamId, hostId, fps, reader);
  if (shared && !shared.serve) {
    const source = await rtpSourceFor({ ...media, video: null }, 'audio');
    return { ...source, video: { framesPort: shared.framesPort } };
  }
  const feedback = await ingest.feedbackPort(livestreamId, hostId).catch(() => undefined);
  const source = await rtpSourceFor(media, kinds, feedback);
  if (shared?.serve && source.video && !isSharedVideo(source.video))
    source.video.tile = { port: shared.framesPort, ...shared.serve };
  return source;
}

/** Fresh loopback ports for one host's media, in the RTP source shape a pipeline reads. */
export async function rtpSourceFor(
  media: HostMedia,
  kinds: 'video+audio' | 'audio',
  feedbackPort?: number,
): Promise<RtpSource> {
  return {
    type: 'rtp',
    video:
      kinds === 'video+audio' && media.video
        ? {
            port: await freeUdpPort(),
            codec: media.video.codec as 'H264' | 'VP8',
            payloadType: media.video.payloadType,
            ...(feedbackPort === undefined ? {} : { feedbackPort }),
          }
        : null,
    audio: media.audio
      ? { port: await freeUdpPort(), codec: 'OPUS', payloadType: media.audio.payloadType }
      : null,
  };
}

/** The ports the ingest sends RTP to; a shared picture takes none. */
export function portsOf(source: RtpSource): { video?: number; audio?: number } {
  return {
    ...(source.video && !isSharedVideo(source.video) ? { video: source.video.port } : {}),
    ...(source.audio ? { audio: source.audio.port } : {}),
  };
}

interface Followed {
  view: HostView;
  media: HostMedia;
  /** Whether the pipeline has the host's input. */
  added: boolean;
}

export interface FollowerOptions {
  ingest: IngestPort;
  livestreamId: string;
  recording: LiveRecording;
  /** Owner name of this recording's ports at the ingest. */
  owner: string;
  /**
   * A host's own recording: the pipeline started with this host's input on these ports; the
   * follower only turns its picture on and off, and never removes it (the workflow stops the
   * recording). Absent for the composite, which follows every host.
   */
  only?: { hostId: string; view: HostView; media: HostMedia; source: RtpSource };
  kinds: 'video+audio' | 'audio';
  displayName?: (hostId: string) => string;
  onLog?: (line: string) => void;
}

/**
 * Keeps a running recording's inputs in step with the ingest: a host's input is added when it
 * publishes and removed when it leaves; its picture gives way to the placeholder while its camera
 * is off or it has dropped. The snapshot sent at every (re)connection is reconciled against what
 * the pipeline has, so a recorder that starts late, or a node API that restarts, misses nothing.
 */
export class IngestFollower {
  private readonly hosts = new Map<string, Followed>();
  private queue: Promise<void> = Promise.resolve();
  private sub: Subscription | null = null;

  constructor(private readonly o: FollowerOptions) {
    if (o.only)
      this.hosts.set(o.only.hostId, { view: o.only.view, media: o.only.media, added: true });
  }

  /** Attaches the ports of a host recording's own input, then follows. */
  async start(): Promise<void> {
    const only = this.o.only;
    if (only)
      await this.o.ingest.attach(
        this.o.livestreamId,
        only.hostId,
        this.o.owner,
        portsOf(only.source),
      );
    this.sub = this.o.ingest.follow(this.o.livestreamId, {
      onSnapshot: (hosts) => this.enqueue(() => this.reconcile(hosts)),
      onEvent: (e) => this.enqueue(() => this.apply(e)),
      onError: (err) => this.log(`ingest events: ${err.message}; reconnecting`),
    });
  }

  /** Stops following and takes this recording's ports off the ingest. */
  async stop(): Promise<void> {
    this.sub?.close();
    await this.queue;
    await Promise.allSettled(
      [...this.hosts.keys()].map((h) => this.o.ingest.detach(this.o.livestreamId, h, this.o.owner)),
    );
  }

  private enqueue(step: () => Promise<void>): void {
    this.queue = this.queue.then(step).catch((err: Error) => this.log(err.message));
  }

  private log(line: string): void {
    this.o.onLog?.(`${this.o.livestreamId}/${this.o.owner}: ${line}`);
  }

  private wants(hostId: string): boolean {
    return this.o.only === undefined || this.o.only.hostId === hostId;
  }

  private async reconcile(snapshot: HostSnapshot[]): Promise<void> {
    const seen = new Set<string>();
    for (const h of snapshot) {
      if (!this.wants(h.hostId) || !h.media) continue;
      const view = viewOfSnapshot(h);
      if (!view.present) continue;
      seen.add(h.hostId);
      await this.ensure(h.hostId, view, h.media);
    }
    if (this.o.only) return;
    for (const hostId of [...this.hosts.keys()]) if (!seen.has(hostId)) await this.remove(hostId);
  }

  private async apply(e: IngestHostEvent): Promise<void> {
    const { event } = e;
    if (!this.wants(event.hostId)) return;
    const f = this.hosts.get(event.hostId);
    const view = applyHostEvent(f?.view ?? initialHostView(event.hostId), event);
    if (event.type === 'left') return this.o.only ? undefined : this.remove(event.hostId);
    const media = e.media ?? f?.media;
    if (!media) return;
    await this.ensure(event.hostId, view, media);
  }

  private async ensure(hostId: string, view: HostView, media: HostMedia): Promise<void> {
    const worker = this.o.recording.worker;
    const showCamera = view.cameraOn && !view.dropped;
    const f = this.hosts.get(hostId);
    if (f?.added) {
      const before = f.view.cameraOn && !f.view.dropped;
      f.view = view;
      f.media = media;
      if (before !== showCamera && this.o.kinds === 'video+audio')
        await worker.setCamera(hostId, showCamera);
      return;
    }
    const source = await hostSource(
      this.o.ingest,
      this.o.livestreamId,
      hostId,
      media,
      this.o.kinds,
      this.o.recording.spec.profile.video.fps,
      'composite',
    );
    const input: InputSpec = {
      id: hostId,
      displayName: this.o.displayName?.(hostId) ?? hostId,
      source,
      cameraOn: showCamera,
    };
    this.hosts.set(hostId, { view, media, added: false });
    await worker.addInput(input);
    this.hosts.get(hostId)!.added = true;
    await this.o.ingest.attach(this.o.livestreamId, hostId, this.o.owner, portsOf(source));
  }

  private async remove(hostId: string): Promise<void> {
    const f = this.hosts.get(hostId);
    if (!f) return;
    this.hosts.delete(hostId);
    await this.o.ingest.detach(this.o.livestreamId, hostId, this.o.owner);
    if (f.added) await this.o.recording.worker.removeInput(hostId);
  }
}
