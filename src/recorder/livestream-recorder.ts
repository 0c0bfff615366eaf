import { join } from 'node:path';
import type { HostEvent } from '../domain/host-presence.ts';
import type { OutputProfile } from '../domain/profile.ts';
import type { Deliverer } from '../delivery/deliverer.ts';
import type { HostMedia, IngestHostEvent, LiveIngest } from '../ingest/live-ingest.ts';
import type { MediaKind } from '../ingest/rtc/offer.ts';
import type { MediaWorkerPool } from '../media/media-worker-pool.ts';
import type { InputSpec, RtpSource } from '../media/pipeline/spec.ts';
import type { WorkerEvent } from '../media/worker/protocol.ts';
import { LiveRecording } from './live-recording.ts';
import { portsOf, rtpSourceFor } from './ingest-follower.ts';

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
  /** Loaded media workers for the hosts' own recordings; without it each starts a new one. */
  pool?: Pick<MediaWorkerPool, 'take'>;
}

interface HostRecordings {
  media: HostMedia;
  recording: LiveRecording | null;
  /** Resolves once the host's own recording runs (null when it failed to start). */
  starting: Promise<LiveRecording | null>;
  /** Changes to the host's own recording, in event order, after it started. */
  ops: Promise<unknown>;
  detach: (() => void)[];
}

/** Tries at starting a host's recording; each with a fresh media worker and fresh ports. */
const HOST_START_ATTEMPTS = 3;
const HOST_START_RETRY_MS = 500;

/**
 * Records one livestream from its ingest: a composite that follows hosts joining, dropping and
 * leaving, and one recording per host. Host events arrive in order and are handed on in that
 * order, to the composite's chain of changes and to each host's own: a change that waits for a
 * media worker (a host's recording starting, the composite adding an input) holds up only the
 * changes behind it on the same recording, never another host's join.
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
  private compositeOps: Promise<unknown> = Promise.resolve();
  private stopped = false;
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
    this.stopped = true;
    this.o.ingest.off('host', this.listener);
    await this.queue;
    await this.compositeOps;
    await Promise.allSettled([...this.hosts.values()].map((h) => h.ops));
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

  /** Runs a change of the composite after the ones before it; not awaited by the event queue. */
  private onComposite(what: string, step: (composite: LiveRecording) => Promise<unknown>): void {
    const composite = this.composite;
    if (!composite) return;
    this.compositeOps = this.compositeOps
      .then(() => step(composite))
      .catch((err: Error) => this.log(`composite ${what}: ${err.message}`));
  }

  /** Runs a change of the host's own recording once it started, after the ones before it. */
  private onHost(h: HostRecordings, step: (recording: LiveRecording) => Promise<unknown>): void {
    h.ops = h.ops
      .then(() => h.starting)
      .then((rec) => (rec ? step(rec) : undefined))
      .catch((err: Error) => this.log(`host recording: ${err.message}`));
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
        this.setCamera(
          event.hostId,
          this.o.ingest.presence(this.o.livestreamId, event.hostId)?.cameraOn ?? true,
        );
        break;
      case 'dropped':
        this.setCamera(event.hostId, false);
        break;
      case 'camera-off':
      case 'camera-on':
        this.setCamera(event.hostId, event.type === 'camera-on');
        break;
      case 'left':
        this.leave(event.hostId);
        break;
      default:
        break;
    }
  }

  private async join(hostId: string, media: HostMedia): Promise<void> {
    const feedbackPort = media.video ? await this.feedbackPort(hostId) : undefined;
    const ports = () => rtpSourceFor(media, 'video+audio', feedbackPort);
    const displayName = this.o.displayName?.(hostId) ?? hostId;
    const input = (source: RtpSource): InputSpec => ({
      id: hostId,
      displayName,
      source,
      cameraOn: true,
    });
    const compositeSource = await ports();
    const generation = (this.generations.get(hostId) ?? 0) + 1;
    this.generations.set(hostId, generation);
    const recordingId = generation === 1 ? `host-${hostId}` : `host-${hostId}-${generation}`;
    const h: HostRecordings = {
      media,
      recording: null,
      starting: Promise.resolve(null),
      ops: Promise.resolve(),
      detach: [],
    };
    this.hosts.set(hostId, h);

    const attempt = async (): Promise<LiveRecording> => {
      const hostSource = await ports();
      // The ports are attached before the pipeline starts: the host's packets are what brings it
      // to PLAYING at once, and a pipeline started without them waited 0.3-0.6 s for its mixers to
      // time out.
      let own: (() => void)[] = [];
      try {
        own = this.attach(hostId, hostSource);
        h.detach.push(...own);
      } catch (err) {
        this.log(`host ${hostId}: not attached to its recording: ${(err as Error).message}`);
      }
      try {
        const recording = await LiveRecording.start({
          livestreamId: this.o.livestreamId,
          spec: {
            kind: 'host',
            recordingId: recordingId.slice(0, 64),
            profile: this.o.host,
            inputs: [input(hostSource)],
          },
          ...this.where(recordingId),
          ...(this.o.pool ? { worker: this.o.pool.take() } : {}),
          onEvent: (e) => this.workerEvent(recordingId, e),
        });
        // Known before anything else can fail, so that nothing leaves it running.
        this.made.push(recording);
        h.recording = recording;
        return recording;
      } catch (err) {
        own.forEach((d) => d());
        h.detach = h.detach.filter((d) => !own.includes(d));
        throw err;
      }
    };
    // Not awaited: a new worker takes most of the time to the host's first recorded frame. A start
    // that fails (a pipeline that could not link under load has been seen) is tried again with a
    // fresh worker and ports, while the host is still here.
    h.starting = (async () => {
      for (let n = 1; ; n++) {
        try {
          return await attempt();
        } catch (err) {
          const message = (err as Error).message;
          if (n >= HOST_START_ATTEMPTS || this.hosts.get(hostId) !== h || this.stopped) {
            this.log(`host ${hostId}: its recording did not start: ${message}`);
            return null;
          }
          this.log(
            `host ${hostId}: its recording did not start (attempt ${n} of ${HOST_START_ATTEMPTS}), trying again: ${message}`,
          );
          await new Promise((r) => setTimeout(r, HOST_START_RETRY_MS));
        }
      }
    })();
    h.ops = h.starting;
    this.onComposite(`add ${hostId}`, async (composite) => {
      await composite.worker.addInput(input(compositeSource));
      if (this.hosts.get(hostId) === h) h.detach.push(...this.attach(hostId, compositeSource));
    });
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

  /** The detaches, one per kind of media the source takes. */
  private attach(hostId: string, source: RtpSource): (() => void)[] {
    return (['video', 'audio'] as MediaKind[]).flatMap((kind) => {
      const port = portsOf(source)[kind];
      return port === undefined
        ? []
        : [this.o.ingest.attach(this.o.livestreamId, hostId, kind, { port })];
    });
  }

  private setCamera(hostId: string, on: boolean): void {
    const h = this.hosts.get(hostId);
    if (!h) return;
    this.onComposite(`camera ${hostId}`, (composite) => composite.worker.setCamera(hostId, on));
    this.onHost(h, (rec) => rec.worker.setCamera(hostId, on));
  }

  private leave(hostId: string): void {
    const h = this.hosts.get(hostId);
    if (!h) return;
    this.hosts.delete(hostId);
    h.detach.forEach((d) => d());
    this.onComposite(`remove ${hostId}`, (composite) => composite.worker.removeInput(hostId));
    // The last snippet's EOS holds up nothing but stop().
    const stopped = h.ops
      .then(() => h.starting)
      .then(async (rec) => {
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
