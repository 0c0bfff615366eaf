import { join } from 'node:path';
import type { HostEvent } from '../domain/host-presence.ts';
import type { OutputProfile } from '../domain/profile.ts';
import type { Deliverer } from '../delivery/deliverer.ts';
import type { HostMedia, IngestHostEvent, LiveIngest } from '../ingest/live-ingest.ts';
import type { MediaKind } from '../ingest/rtc/offer.ts';
import type { InputSpec, RtpSource } from '../media/pipeline/spec.ts';
import type { WorkerEvent } from '../media/worker/protocol.ts';
import { LiveRecording } from './live-recording.ts';
import { freeUdpPort } from './udp-port.ts';

export interface LivestreamRecorderOptions {
  ingest: LiveIngest;
  livestreamId: string;
  composite: OutputProfile;
  host: OutputProfile;
  /** Snippets go through the deliverer; without one, to folders under outDir. */
  deliverer?: Deliverer;
  outDir?: string;
  displayName?: (hostId: string) => string;
  /** Everything worth a log line: host events, worker warnings, failures. */
  onLog?: (line: string) => void;
}

interface HostRecordings {
  media: HostMedia;
  recording: LiveRecording | null;
  /** Resolves once the host's own recording runs (null when it failed to start). */
  starting: Promise<LiveRecording | null>;
  detach: (() => void)[];
}

/**
 * Records one livestream from its ingest: a composite that follows hosts joining, dropping and
 * leaving, and one recording per host. Host events arrive in order and are applied one at a time.
 */
export class LivestreamRecorder {
  composite: LiveRecording | null = null;
  private readonly hosts = new Map<string, HostRecordings>();
  /** Every host recording that started, running or stopped: stop() ends whichever still runs. */
  private readonly made: LiveRecording[] = [];
  private readonly stopping: Promise<void>[] = [];
  /** Recordings started per host: a host that left and joins again gets a new one. */
  private readonly generations = new Map<string, number>();
  private queue: Promise<void> = Promise.resolve();
  private readonly listener = (e: IngestHostEvent) => {
    if (e.livestreamId === this.o.livestreamId) this.enqueue(() => this.apply(e.event, e.media));
  };

  constructor(private readonly o: LivestreamRecorderOptions) {}

  async start(): Promise<void> {
    this.o.ingest.openLivestream(this.o.livestreamId);
    this.composite = await LiveRecording.start({
      livestreamId: this.o.livestreamId,
      spec: { kind: 'composite', recordingId: 'composite', profile: this.o.composite, inputs: [] },
      ...this.where('composite'),
      onEvent: (e) => this.workerEvent('composite', e),
    });
    this.o.ingest.on('host', this.listener);
  }

  /** Every recording this livestream made, running or stopped. */
  recordings(): LiveRecording[] {
    return [...(this.composite ? [this.composite] : []), ...this.made];
  }

  hostRecording(hostId: string): LiveRecording | null {
    return this.hosts.get(hostId)?.recording ?? null;
  }

  /** Stops taking events, ends every recording with a complete last snippet. */
  async stop(): Promise<void> {
    this.o.ingest.off('host', this.listener);
    await this.queue;
    await Promise.allSettled([...this.hosts.values()].map((h) => h.starting));
    await Promise.allSettled(this.stopping);
    for (const h of this.hosts.values()) h.detach.forEach((d) => d());
    await Promise.allSettled(this.recordings().map((r) => r.stop()));
  }

  private where(recordingId: string) {
    return this.o.deliverer
      ? { deliverer: this.o.deliverer }
      : { outDir: join(this.o.outDir ?? '.', this.o.livestreamId, recordingId) };
  }

  private enqueue(step: () => Promise<void>): void {
    this.queue = this.queue.then(step).catch((err: Error) => this.log(`recorder: ${err.message}`));
  }

  private log(line: string): void {
    this.o.onLog?.(`${this.o.livestreamId}: ${line}`);
  }

  private workerEvent(recordingId: string, e: WorkerEvent): void {
    if (e.event === 'warning' || e.event === 'error' || e.event === 'output-failed')
      this.log(`${recordingId} ${e.event}: ${JSON.stringify(e.data)}`);
  }

  private async apply(event: HostEvent, media: HostMedia | undefined): Promise<void> {
    this.log(`host ${event.hostId} ${event.type}${event.detail ? ` (${event.detail})` : ''}`);
    const h = this.hosts.get(event.hostId);
    switch (event.type) {
      case 'joined':
        if (media) await this.join(event.hostId, media);
        break;
      case 'resumed':
        // Same ports, same recordings: the new publish reaches the recorders that attached.
        if (h && media && !sameCodecs(h.media, media))
          this.log(`host ${event.hostId} came back with other codecs; its picture may stay frozen`);
        await this.setCamera(
          event.hostId,
          this.o.ingest.presence(this.o.livestreamId, event.hostId)?.cameraOn ?? true,
        );
        break;
      case 'dropped':
        await this.setCamera(event.hostId, false);
        break;
      case 'camera-off':
      case 'camera-on':
        await this.setCamera(event.hostId, event.type === 'camera-on');
        break;
      case 'left':
        await this.leave(event.hostId);
        break;
      default:
        break;
    }
  }

  private async join(hostId: string, media: HostMedia): Promise<void> {
    const feedbackPort = media.video ? await this.feedbackPort(hostId) : undefined;
    const ports = async (): Promise<RtpSource> => ({
      type: 'rtp',
      video: media.video
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
    });
    const displayName = this.o.displayName?.(hostId) ?? hostId;
    const input = (source: RtpSource): InputSpec => ({
      id: hostId,
      displayName,
      source,
      cameraOn: true,
    });
    const compositeSource = await ports();
    const hostSource = await ports();
    const generation = (this.generations.get(hostId) ?? 0) + 1;
    this.generations.set(hostId, generation);
    const recordingId = generation === 1 ? `host-${hostId}` : `host-${hostId}-${generation}`;
    const h: HostRecordings = {
      media,
      recording: null,
      starting: Promise.resolve(null),
      detach: [],
    };
    this.hosts.set(hostId, h);

    // Its own recording starts first and is not waited for: a new worker takes most of the time
    // to the host's first recorded frame, and the composite's input is added meanwhile.
    h.starting = LiveRecording.start({
      livestreamId: this.o.livestreamId,
      spec: {
        kind: 'host',
        recordingId: recordingId.slice(0, 64),
        profile: this.o.host,
        inputs: [input(hostSource)],
      },
      ...this.where(recordingId),
      onEvent: (e) => this.workerEvent(recordingId, e),
    }).then(
      (recording) => {
        // Known before anything else can fail, so that nothing leaves it running.
        this.made.push(recording);
        h.recording = recording;
        try {
          if (this.hosts.get(hostId) === h) this.attach(hostId, h, hostSource);
        } catch (err) {
          // The ingest closed while the recording started; stop() ends it.
          this.log(`host ${hostId}: not attached to its recording: ${(err as Error).message}`);
        }
        return recording;
      },
      (err: Error) => {
        this.log(`host ${hostId}: its recording did not start: ${err.message}`);
        return null;
      },
    );
    try {
      await this.composite!.worker.addInput(input(compositeSource));
      this.attach(hostId, h, compositeSource);
    } catch (err) {
      this.log(`host ${hostId}: not added to the composite: ${(err as Error).message}`);
    }
  }

  /** Without a feedback port the host is still recorded, only its recorders cannot ask for keyframes. */
  private async feedbackPort(hostId: string): Promise<number | undefined> {
    try {
      return await this.o.ingest.feedbackPort(this.o.livestreamId, hostId);
    } catch (err) {
      this.log(`host ${hostId}: no feedback port: ${(err as Error).message}`);
      return undefined;
    }
  }

  private attach(hostId: string, h: HostRecordings, source: RtpSource): void {
    for (const kind of ['video', 'audio'] as MediaKind[]) {
      const port = source[kind]?.port;
      if (port !== undefined)
        h.detach.push(this.o.ingest.attach(this.o.livestreamId, hostId, kind, { port }));
    }
  }

  private async setCamera(hostId: string, on: boolean): Promise<void> {
    const h = this.hosts.get(hostId);
    if (!h) return;
    await Promise.allSettled([
      this.composite?.worker.setCamera(hostId, on),
      h.starting.then((rec) => rec?.worker.setCamera(hostId, on)),
    ]);
  }

  private async leave(hostId: string): Promise<void> {
    const h = this.hosts.get(hostId);
    if (!h) return;
    this.hosts.delete(hostId);
    h.detach.forEach((d) => d());
    await this.composite?.worker.removeInput(hostId).catch((err: Error) => this.log(err.message));
    // Not awaited: the last snippet's EOS must not hold up the next host event.
    const stopped = h.starting.then(async (rec) => {
      await rec?.stop();
    });
    this.stopping.push(stopped);
    stopped.catch((err: Error) => this.log(`host ${hostId} stop: ${err.message}`));
  }
}

function sameCodecs(a: HostMedia, b: HostMedia): boolean {
  return (
    a.video?.codec === b.video?.codec &&
    a.video?.payloadType === b.video?.payloadType &&
    a.audio?.payloadType === b.audio?.payloadType
  );
}
