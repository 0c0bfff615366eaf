import {
  buildPipeline,
  CAMERA_PAD_HOLDS_LAST_FRAME,
  placeInputs,
  type PadPlacement,
} from '../pipeline/build.ts';
import { names } from '../pipeline/encoders.ts';
import {
  inputFragments,
  inputNames,
  sharedCamera,
  sharedPictureOffsetNs,
  sharedVideoOf,
  TILE_ELEMENT_PREFIX,
  tileOf,
} from '../pipeline/inputs.ts';
import { mixerLatencyNs, SHARED_PICTURE_LATENCY_NS } from '../pipeline/mixer-latency.ts';
import {
  HLS_ELEMENT_PREFIX,
  outputNames,
  RTMP_ELEMENT_PREFIX,
  rtmpBranch,
} from '../pipeline/outputs.ts';
import {
  SpecError,
  validateSpec,
  type InputSpec,
  type RecordingSpec,
  type SharedVideo,
} from '../pipeline/spec.ts';
import {
  type BusMessageType,
  type GstAppSink,
  type GstBin,
  type GstClock,
  type GstElement,
  type GstMessage,
  type GstObject,
  type GstModule,
  type GstPad,
  type GstPipeline,
  loadGstApp,
  onBusMessages,
} from './gst.ts';
import { CapturedPictures, makePicturesDir } from './captured-pictures.ts';
import { AudioDrift } from './audio-drift.ts';
import { HoldUp } from './hold-up.ts';
import { collectRemoved } from './collect-removed.ts';
import { FrameLoss } from './frame-loss.ts';
import { withInjectedFault } from './fault-injection.ts';
import { nextRestartDelayMs, type InputRestarts } from './input-restart.ts';
import { TileServer } from './tile-server.ts';
import {
  type CanvasCell,
  StillCanvas,
  stillForWantOfPicture,
  type Stretch,
} from './still-canvas.ts';
import type { StartResult, WorkerEvent, WorkerStats } from './protocol.ts';

/** What onMessage acts on; the rest of a pipeline's messages never reach JavaScript. */
const HANDLED_MESSAGES: readonly BusMessageType[] = [
  'error',
  'warning',
  'element',
  'latency',
  'qos',
  'eos',
];
const RTMP_RETRY_MS = [2000, 4000, 8000, 15000, 30000];
/** How long the recorder may go without new media before the stall is reported. */
const STALL_MS = 10_000;
/** How often a lost shared decoder is looked for again. */
const SHARED_RETRY_MS = 1000;
/** A shared picture attached again counts as back once it has run this long without an error. */
const SHARED_SETTLE_MS = 2000;
/** How long a shared picture that ended holds its last frame before it counts as lost. */
const SHARED_END_HOLD_MS = 3000;
/** A shared picture is attached this long after the pipeline started, not before. */
const SHARED_FROM_MS = 1000;
/** The recorder's own hold-ups worth a warning: over twice what its mixers wait for late input. */
const HOLD_UP_MS = 500;
/**
 * One timer, once a second, serves every look the worker takes: hold-ups, the watchdog (stall,
 * frame loss, drift), a host's first sound and the shared pictures. Each wake-up of the worker's
 * main thread costs CPU whatever it does (GLib's loop entering libuv and V8, from 0.2 to over
 * 2 ms here, the more the idler the machine), and is most of what an audio recording's worker
 * spends besides its pipeline.
 */
const TICK_MS = 1000;
/** How long a pipeline that refused to play is given to post the reason on its bus. */
const FAILED_START_WAIT_MS = 1000;
/**
 * How long a closed snippet waits for its successor to open before it is announced alone, also
 * after a stop (when the pipeline's EOS ends the wait sooner). Half a second was too short for a
 * stop that came right at a cut on a loaded machine: the next snippet opened later than that, and
 * the one before was announced ending at its own close, 0.33 s short of where the next began.
 */
const CLOSE_HOLD_MS = 1000;

interface LiveInput {
  spec: InputSpec;
  bin: GstBin;
  /** Mixer pads this input feeds, keyed by branch. */
  pads: { video?: GstPad; placeholder?: GstPad; audio: GstPad };
  shared?: SharedPicture;
  /** The tiles a host's recording serves to the composite. */
  tile?: TileServer;
  /** Present for a microphone that comes over RTP. */
  drift?: AudioDrift;
  /**
   * Until its microphone's first sound leaves the jitter buffer: the running time the input joined
   * at, and that of the last look that found no sound yet. Then null.
   */
  awaitingSound?: { joinedNs: bigint; silentAtNs: bigint } | null;
  /** Samples of its sound the audio mixer dropped as late, and how many of them were told. */
  soundDropped?: { samples: number; told: number };
  /** The microphone's jitter buffer and its source pad, once looked up; null when it has none. */
  jitter?: { element: GstElement; src: GstPad } | null;
}

/**
 * The picture of an input whose video a shared decoder process decodes. Its bin stands apart from
 * the input's, so a decoder that dies costs the picture only: the placeholder shows, the sound
 * goes on, and the picture is attached again once a decoder is back.
 */
interface SharedPicture {
  video: SharedVideo;
  bin: GstBin | null;
  /**
   * The reader has the stream's header: frames follow. Until then the placeholder shows, not an
   * empty cell (a port that accepts and sends nothing, or a server still starting).
   */
  showing: boolean;
  /** Said to the parent that the picture is lost, and not yet that it is back. */
  lostSaid: boolean;
  /** When a look first found the stream ended, or null. */
  endSeenAtMs: number | null;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One recording: one GStreamer pipeline, changed at run time without a restart. Every method runs
 * on the GLib main loop's thread, the only one that touches the pipeline.
 */
export class Recording {
  private pipeline!: GstPipeline;
  private readonly inputs = new Map<string, LiveInput>();
  private order: string[] = [];
  private baseTimeUtcNs = 0n;
  private readonly openedAt = new Map<string, bigint>();
  private snippetsClosed = 0;
  private rtmpState: WorkerStats['rtmp'] = 'off';
  private rtmpFailures = 0;
  private rtmpRetry: NodeJS.Timeout | undefined;
  private lookTimer: NodeJS.Timeout | undefined;
  /** The pictures scoring measures, taken as recorded; null for an audio recording. */
  private pictures: CapturedPictures | null = null;
  /** The filter that drops repeated frames; its drop count is the repeats (none in audio). */
  private videoRate: GstElement | null = null;
  private readonly frameLoss = new FrameLoss();
  private eosWaiters: (() => void)[] = [];
  private lastOpened: string | undefined;
  private pendingClose:
    { location: string; start: bigint; reportedEnd: bigint; timer: NodeJS.Timeout } | undefined;
  private stopRequested = false;
  private started = false;
  /** Inputs attached again after a failure: the last time each was, and the next try's timer. */
  private readonly restarted = new Map<string, InputRestarts>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly stillCanvas = new StillCanvas();

  constructor(
    private readonly Gst: GstModule,
    private readonly spec: RecordingSpec,
    private readonly startIndex: number,
    private readonly emit: (event: WorkerEvent) => void,
  ) {
    validateSpec(spec);
  }

  start(): Promise<StartResult> {
    const { Gst, spec } = this;
    const picturesDir = spec.kind === 'audio' ? undefined : makePicturesDir();
    const built = buildPipeline(spec, { startIndex: this.startIndex, picturesDir });
    this.pipeline = Gst.parseLaunch(built.core);
    if (picturesDir) {
      loadGstApp();
      const sink = this.pipeline.getByName(outputNames.pictures) as GstAppSink;
      this.pictures = new CapturedPictures(Gst, sink, picturesDir);
    }
    // The wall clock drives the pipeline, so a running time maps to UTC by adding the base time.
    const clock = Gst.SystemClock.obtain();
    clock.clockType = Gst.ClockType.REALTIME;
    this.pipeline.useClock(clock);
    for (const input of spec.inputs) this.attachInput(input, 0n);
    const sockets = this.holdMicrophoneSockets();
    const latency = mixerLatencyNs(spec);
    this.pipeline.getByName(names.audioMixer)!.latency = latency.audio;
    if (spec.kind !== 'audio') this.pipeline.getByName(names.videoMixer)!.latency = latency.video;
    this.applyLayout();

    const bus = this.pipeline.getBus();
    bus.addSignalWatch();
    return new Promise((resolve, reject) => {
      let settled = false;
      onBusMessages(bus, HANDLED_MESSAGES, (message) => {
        if (!settled && message.type === Gst.MessageType.ERROR && !this.isBranchElement(message)) {
          settled = true;
          const [error, debug] = message.parseError();
          this.pipeline.setState(Gst.State.NULL);
          this.pictures?.close();
          reject(new Error(`pipeline failed to start: ${error.message} (${debug})`));
          return;
        }
        this.onMessage(message);
      });
      // Only the pipeline's own move to PLAYING is wanted, once; every element posts its own.
      const stopWatchingStart = onBusMessages(bus, ['state-changed'], (message) => {
        if (
          settled ||
          message.src !== (this.pipeline as unknown) ||
          message.parseStateChanged()[1] !== Gst.State.PLAYING
        )
          return;
        settled = true;
        // Not from inside the signal's own emission.
        setImmediate(stopWatchingStart);
        this.started = true;
        this.baseTimeUtcNs = this.pipeline.getBaseTime();
        for (const live of this.inputs.values()) if (live.shared) this.attachSharedPicture(live);
        for (const live of this.inputs.values()) this.serveTile(live);
        if (spec.rtmpUrl) this.attachRtmp();
        this.startLooking();
        this.shortenFirstGop();
        resolve({ baseTimeUtcNs: this.baseTimeUtcNs.toString(), pid: process.pid });
      });
      // Every state change a bin makes hands its children the bin's base time, 0 until the move
      // to PLAYING: the mixers can be given theirs only once PAUSED is behind them.
      const paused = this.pipeline.setState(Gst.State.PAUSED);
      if (paused !== Gst.StateChangeReturn.FAILURE) this.dateMixersFromNow(clock);
      holdBeforePlaying();
      const playing =
        paused !== Gst.StateChangeReturn.FAILURE &&
        this.pipeline.setState(Gst.State.PLAYING) !== Gst.StateChangeReturn.FAILURE;
      if (!(playing && sockets.every(startReading))) {
        // The element that failed posts why (a port already taken, a file that cannot be
        // written), and the watch above rejects with it; this is for an element that does not.
        setTimeout(() => {
          if (settled) return;
          settled = true;
          this.pipeline.setState(Gst.State.NULL);
          this.pictures?.close();
          reject(
            new Error(
              'pipeline refused to start playing; see the worker log for the element that failed',
            ),
          );
        }, FAILED_START_WAIT_MS);
      }
    });
  }

  /**
   * On the way to PLAYING a live mixer gets the pipeline's clock a moment before its base time,
   * and its thread already runs. An input's first event in that moment woke it to wait for base
   * time 0 plus its latency, long past, so it mixed a first frame at once; the input's first
   * buffer then restarted its timeline at 0, the second frame came out at 0 again, and the
   * filter before the encoder dropped that repeat: the recording lost its second frame. Given
   * the base time the pipeline is about to hand it (a few milliseconds early), the mixer waits
   * out its latency from the start. Called in PAUSED: each earlier state change overwrites it.
   */
  private dateMixersFromNow(clock: GstClock): void {
    const now = clock.getTime();
    for (const name of [names.videoMixer, names.audioMixer])
      this.pipeline.getByName(name)?.setBaseTime(now);
  }

  /**
   * The microphones' sockets, kept out of the state changes that start the pipeline. The host's
   * RTP reaches a socket as soon as it is bound, and a socket bound with the rest of the pipeline
   * held what came until the pipeline played; its jitter buffer, which times every packet from
   * the first one's arrival, then put all of the host's sound that much late, for good (0.7 s
   * once in CI, on a busy start). Each is started once the pipeline plays, and reads at once.
   */
  private holdMicrophoneSockets(): GstElement[] {
    const sockets = this.spec.inputs.flatMap((input) => {
      const socket = this.pipeline.getByName(inputNames(input.id).audioSocket);
      return socket ? [socket] : [];
    });
    for (const socket of sockets) socket.setLockedState(true);
    return sockets;
  }

  runningTimeNs(): bigint {
    const clock = this.pipeline.getClock();
    if (!clock || !this.started) return 0n;
    return clock.getTime() - this.pipeline.getBaseTime();
  }

  addInput(input: InputSpec): void {
    if (this.inputs.has(input.id))
      throw new SpecError(`input ${input.id} is already in the recording`);
    if (this.spec.kind !== 'composite')
      throw new SpecError(`a ${this.spec.kind} recording has one fixed input`);
    validateSpec({
      ...this.spec,
      inputs: [...this.inputs.values()].map((i) => i.spec).concat(input),
    });
    this.attachInput(input, this.runningTimeNs());
    this.applyLayout();
  }

  removeInput(id: string): void {
    this.detachInput(this.requireInput(id));
    this.order = this.order.filter((o) => o !== id);
    this.applyLayout();
  }

  /** Takes an input's bin out of the pipeline; its place in the order stays to the caller. */
  private detachInput(live: LiveInput): void {
    const { Gst } = this;
    this.detachSharedPicture(live);
    if (live.shared) clearTimeout(live.shared.timer);
    // Stop the sources first: unlinking a pad that is still pushing would fail the stream.
    live.bin.setState(Gst.State.NULL);
    for (const [branch, mixerPad] of Object.entries(live.pads)) {
      const ghost = live.bin.getStaticPad(branch);
      if (ghost && mixerPad) ghost.unlink(mixerPad);
      const mixer = mixerPad?.getParentElement();
      if (mixer && mixerPad) mixer.releaseRequestPad(mixerPad);
    }
    this.pipeline.remove(live.bin);
    this.inputs.delete(live.spec.id);
    collectRemoved();
  }

  setCamera(id: string, on: boolean): void {
    const live = this.requireInput(id);
    live.spec = { ...live.spec, cameraOn: on };
    this.applyLayout();
  }

  setLayout(order: string[]): void {
    const known = new Set(this.inputs.keys());
    if (order.length !== known.size || !order.every((id) => known.has(id)))
      throw new SpecError(`layout order must name each input once: ${[...known].join(', ')}`);
    this.order = [...order];
    this.applyLayout();
  }

  stats(): WorkerStats {
    return {
      runningTimeNs: this.runningTimeNs().toString(),
      inputs: this.order.map((id) => ({ id, cameraOn: this.inputs.get(id)!.spec.cameraOn })),
      snippetsClosed: this.snippetsClosed,
      rtmp: this.rtmpState,
    };
  }

  /**
   * EOS finalises the open snippet, so the last one is a whole, playable file. The recording is
   * done once that snippet has closed: a live output whose server is gone (RTMP) or that never
   * forwards EOS (hlssink2 in 1.22) must not hold the stop up.
   */
  stop(timeoutMs: number): Promise<{ snippetsClosed: number; timedOut: boolean }> {
    const { Gst } = this;

    return new Promise((resolve) => {
      const finish = (timedOut: boolean) => {
        clearTimeout(timer);
        this.pipeline.setState(Gst.State.NULL);
        this.pictures?.close();
        resolve({ snippetsClosed: this.snippetsClosed, timedOut });
      };
      const timer = setTimeout(() => finish(true), timeoutMs);
      this.eosWaiters.push(() => finish(false));
      this.stopRequested = true;
      this.tellStillCanvas(this.stillCanvas.end(this.canvasNowMs()));
      for (const live of this.inputs.values()) {
        clearTimeout(live.shared?.timer);
        live.tile?.stop();
      }
      for (const timer of this.restartTimers.values()) clearTimeout(timer);
      clearInterval(this.lookTimer);
      clearTimeout(this.rtmpRetry);
      this.pipeline.sendEvent(Gst.Event.newEos());
    });
  }

  /**
   * The worker's one periodic look (see TICK_MS). A live pipeline that stops moving posts nothing
   * on the bus, so the look also checks that media keeps reaching the recorder, and says so when
   * it does not instead of staying silent.
   */
  private startLooking(): void {
    const { Gst } = this;
    // Looked up once: each call into GStreamer from this thread costs tens of microseconds.
    const recorderInput = this.pipeline
      .getByName(this.spec.kind === 'audio' ? 'rec_aq' : 'rec_vq')
      ?.getStaticPad('src');
    this.videoRate = this.pipeline.getByName(names.videoRate);
    let last = -1n;
    let since = Date.now();
    let reported = false;
    const holdUp = new HoldUp(TICK_MS, HOLD_UP_MS, Date.now());
    this.lookTimer = setInterval(() => {
      this.tellHoldUp(holdUp);
      this.checkSharedPictures();
      this.tellSoundStarted();
      this.tellFrameLoss();
      this.followAudioDrift();
      const [ok, position] = recorderInput?.queryPosition(Gst.Format.TIME) ?? [false, 0n];
      if (ok && position !== last) {
        last = position;
        since = Date.now();
        reported = false;
        return;
      }
      if (!reported && Date.now() - since > STALL_MS) {
        reported = true;
        this.emit({
          event: 'error',
          data: {
            source: 'watchdog',
            message: `no media reached the recorder for ${STALL_MS / 1000} s`,
            debug: `position ${last}`,
          },
        });
      }
    }, TICK_MS);
  }

  private tellHoldUp(holdUp: HoldUp): void {
    const held = holdUp.tick(Date.now());
    if (!held) return;
    const from = new Date(held.fromMs).toISOString();
    this.emit({
      event: 'warning',
      data: {
        source: 'recorder',
        message: `the recorder was held up for about ${(held.ms / 1000).toFixed(1)} s (± ${(held.withinMs / 1000).toFixed(1)} s) from ${from} (the machine starved its process, or a call into GStreamer held its thread): its sound may be silent and its picture stand still for about as long`,
      },
    });
    this.emit({ event: 'held-up', data: held });
  }

  /**
   * A microphone's first sound is stamped with its arrival, and the jitter buffer's position is
   * the stamp of the last sound out of it: the first sound came after the last look that found
   * none, and no later than the first position seen. That tells how long the recorder heard
   * nothing from the host (a host still connecting, or an ingest that sent nothing), to within a
   * look.
   */
  private tellSoundStarted(): void {
    for (const live of this.inputs.values()) {
      const waiting = live.awaitingSound;
      if (!waiting) continue;
      const position = this.soundPosition(live)?.position ?? 0n;
      if (position <= 0n) {
        waiting.silentAtNs = this.runningTimeNs();
        continue;
      }
      live.awaitingSound = null;
      const after = (t: bigint) => (t > waiting.joinedNs ? t - waiting.joinedNs : 0n).toString();
      this.emit({
        event: 'sound-started',
        data: {
          id: live.spec.id,
          earliestNs: after(waiting.silentAtNs),
          latestNs: after(position),
        },
      });
    }
  }

  /** The microphone's jitter buffer and the timestamp of the last sound out of it, if any. */
  private soundPosition(live: LiveInput): { jitter: GstElement; position: bigint } | null {
    // Looked up once per input: every look calls this for each microphone, and each call into
    // GStreamer from this thread costs tens of microseconds.
    if (live.jitter === undefined) {
      const element = live.bin.getByName(inputNames(live.spec.id).audioJitter);
      const src = element?.getStaticPad('src');
      live.jitter = element && src ? { element, src } : null;
    }
    if (!live.jitter) return null;
    const [ok, position] = live.jitter.src.queryPosition(this.Gst.Format.TIME);
    return ok ? { jitter: live.jitter.element, position } : null;
  }

  private followAudioDrift(): void {
    let now: bigint | undefined;
    for (const live of this.inputs.values()) {
      if (!live.drift) continue;
      now ??= this.runningTimeNs();
      const sound = this.soundPosition(live);
      if (!sound) continue;
      const { jitter, position } = sound;
      const move = live.drift.sample(now, position);
      if (move === null) continue;
      jitter.tsOffset = Number(jitter.tsOffset ?? 0) + move.ns;
      const ms = Math.round(move.ns / 1e6);
      this.emit({
        event: 'warning',
        data: {
          source: 'audio',
          message:
            move.cause === 'drift'
              ? `${live.spec.id}: the sender's sound drifted ${ms} ms from the recorder's clock; its timestamps move by as much`
              : `${live.spec.id}: its sound was timed ${-ms} ms late (its first packets came late or in a burst); its timestamps move ${-ms} ms earlier, and up to as much of its sound, already timed, may be dropped once`,
        },
      });
    }
  }

  private tellFrameLoss(countRepeats = true): void {
    const repeats = countRepeats ? Number(this.videoRate?.drop ?? 0) : undefined;
    for (const message of this.frameLoss.news(repeats))
      this.emit({ event: 'warning', data: { source: 'frames', message } });
    const rate = this.spec.profile.audio.sampleRate;
    for (const live of this.inputs.values()) {
      const dropped = live.soundDropped;
      if (!dropped || dropped.samples <= dropped.told) continue;
      const sec = (samples: number) => (samples / rate).toFixed(2);
      this.emit({
        event: 'warning',
        data: {
          source: 'audio',
          message: `${live.spec.id}: ${sec(dropped.samples - dropped.told)} s of its sound reached the mixer too late and was dropped (${sec(dropped.samples)} s in all); the recording is silent there`,
        },
      });
      dropped.told = dropped.samples;
    }
  }

  private requireInput(id: string): LiveInput {
    const live = this.inputs.get(id);
    if (!live) throw new SpecError(`no input ${id} in this recording`);
    return live;
  }

  private attachInput(input: InputSpec, runningTimeNs: bigint): void {
    const { Gst, spec } = this;
    const n = inputNames(input.id);
    const hasVideo = spec.kind !== 'audio';
    const description = withInjectedFault(
      input.id,
      n.video,
      inputFragments(input, {
        fps: spec.profile.video.fps,
        sampleRate: spec.profile.audio.sampleRate,
        index: this.inputs.size,
        timestampOffsetNs: Number(runningTimeNs),
        withVideo: hasVideo,
      }),
    ).join('  ');
    const bin = Gst.parseBinFromDescription(description, false);
    bin.name = n.bin;
    const ghost = (branch: string, element: string): GstPad => {
      const target = bin.getByName(element)?.getStaticPad('src');
      if (!target) throw new Error(`input ${input.id}: element ${element} is missing`);
      const pad = Gst.GhostPad.new(branch, target);
      bin.addPad(pad);
      return pad;
    };
    this.pipeline.add(bin);
    const link = (branch: string, element: string, mixerName: string): GstPad => {
      const mixer = this.pipeline.getByName(mixerName)!;
      const mixerPad = mixer.requestPadSimple('sink_%u');
      if (!mixerPad) throw new Error(`${mixerName} gave no pad for input ${input.id}`);
      if (ghost(branch, element).link(mixerPad) !== Gst.PadLinkReturn.OK)
        throw new Error(`input ${input.id}: could not link ${branch} to ${mixerName}`);
      return mixerPad;
    };
    const pads: LiveInput['pads'] = { audio: link('audio', n.audio, names.audioMixer) };
    const shared = hasVideo ? sharedVideoOf(input) : null;
    if (hasVideo) {
      if (!shared) pads.video = link('video', n.video, names.videoMixer);
      pads.placeholder = link('placeholder', n.placeholder, names.videoMixer);
      if (pads.video) Gst.utilSetObjectArg(pads.video, CAMERA_PAD_HOLDS_LAST_FRAME, 'true');
      for (const pad of [pads.video, pads.placeholder]) {
        if (!pad) continue;
        Gst.utilSetObjectArg(pad, 'sizing-policy', 'keep-aspect-ratio');
        // Invisible until the layout places it, so a new input never flashes in the wrong spot.
        pad.alpha = 0;
      }
    }
    const live: LiveInput = { spec: input, bin, pads };
    if (input.source.type === 'rtp' && input.source.audio) {
      live.drift = new AudioDrift();
      live.awaitingSound = { joinedNs: runningTimeNs, silentAtNs: runningTimeNs };
      // Sound that reaches the mixer after its slot is dropped, and the recording is silent there:
      // the mixer's QoS messages say how much, so a recording says so instead of only the file.
      live.soundDropped = { samples: 0, told: 0 };
      Gst.utilSetObjectArg(pads.audio, 'qos-messages', 'true');
    }
    this.inputs.set(input.id, live);
    if (!this.order.includes(input.id)) this.order.push(input.id);
    if (this.started) bin.syncStateWithParent();
    if (shared) {
      live.shared = {
        video: shared,
        bin: null,
        showing: false,
        lostSaid: false,
        endSeenAtMs: null,
        timer: undefined,
      };
      // Before the pipeline plays, start() attaches it: a decoder that fails while the pipeline
      // changes state must not take the start down with it.
      if (this.started) this.attachSharedPicture(live);
    }
  }

  private serveTile(live: LiveInput): void {
    // validateSpec lets only a host's recording serve tiles.
    const tile = tileOf(live.spec);
    if (!tile) return;
    live.tile = new TileServer({
      Gst: this.Gst,
      pipeline: this.pipeline,
      input: live.bin,
      id: live.spec.id,
      tile,
      fps: this.spec.profile.video.fps,
      baseTimeUtcNs: this.baseTimeUtcNs,
      warn: (message) => this.emit({ event: 'warning', data: { source: 'tiles', message } }),
    });
    live.tile.attach();
  }

  /**
   * Links the shared decoder's frames to a fresh mixer pad. A decoder not there yet refuses the
   * connection, an error: the placeholder stays and the decoder is looked for again.
   */
  private attachSharedPicture(live: LiveInput): void {
    const { Gst } = this;
    const shared = live.shared!;
    shared.timer = undefined;
    if (this.stopRequested) return;
    // A decoder's newest frame may be from before this pipeline started, and a frame with no
    // running time (before the start) aborts the mixer (videoaggregator asserts). Frames come at
    // most a few hundred milliseconds late, so the picture is read from a second in.
    const waitMs = SHARED_FROM_MS - (Date.now() - Number(this.baseTimeUtcNs / 1_000_000n));
    if (waitMs > 0) {
      shared.timer = setTimeout(() => this.attachSharedPicture(live), waitMs);
      return;
    }
    const bin = Gst.parseBinFromDescription(sharedCamera(live.spec.id, shared.video), false);
    bin.name = inputNames(live.spec.id).shared;
    const out = Gst.GhostPad.new(
      'video',
      bin.getByName(inputNames(live.spec.id).video)!.getStaticPad('src')!,
    );
    out.setOffset(sharedPictureOffsetNs(this.baseTimeUtcNs, this.spec.profile.video.fps));
    bin.addPad(out);
    this.pipeline.add(bin);
    const mixer = this.pipeline.getByName(names.videoMixer)!;
    if (Number(mixer.latency) < SHARED_PICTURE_LATENCY_NS) {
      // A composite not told in advance (spec.sharedPictures) waits longer from now on.
      mixer.latency = SHARED_PICTURE_LATENCY_NS;
      this.pipeline.recalculateLatency();
    }
    const mixerPad = mixer.requestPadSimple('sink_%u')!;
    Gst.utilSetObjectArg(mixerPad, 'sizing-policy', 'keep-aspect-ratio');
    Gst.utilSetObjectArg(mixerPad, CAMERA_PAD_HOLDS_LAST_FRAME, 'true');
    mixerPad.alpha = 0;
    bin.getStaticPad('video')!.link(mixerPad);
    live.pads.video = mixerPad;
    shared.bin = bin;
    shared.showing = false;
    shared.endSeenAtMs = null;
    this.applyLayout();
    if (this.started) bin.syncStateWithParent();
    if (shared.lostSaid)
      shared.timer = setTimeout(() => {
        shared.timer = undefined;
        if (shared.bin !== bin) return;
        shared.lostSaid = false;
        this.emit({ event: 'input-restored', data: { id: live.spec.id, what: 'video' } });
      }, SHARED_SETTLE_MS);
  }

  /**
   * A decoder that exits closes its port, and its reader ends its stream (EOS) rather than fail:
   * only the frames' pad says so. Still ended 3 s after a look first saw it, it counts as a lost
   * picture like any error; meanwhile the mixer holds the last frame. At a livestream's stop a
   * host's recording, which serves its tile, can end before the composite is told to stop: taken
   * off at the first look, the tile showed the placeholder over the composite's last 0.7 s.
   */
  private checkSharedPictures(): void {
    if (this.stopRequested) return;
    for (const live of this.inputs.values()) {
      const bin = live.shared?.bin;
      const pad = bin?.getByName(inputNames(live.spec.id).video)?.getStaticPad('src');
      if (pad?.getStickyEvent(this.Gst.EventType.EOS, 0)) {
        const shared = live.shared!;
        shared.endSeenAtMs ??= Date.now();
        if (Date.now() - shared.endSeenAtMs >= SHARED_END_HOLD_MS)
          this.onSharedPictureLost(live, 'the shared decoder closed its port');
      } else if (
        live.shared &&
        !live.shared.showing &&
        pad?.getStickyEvent(this.Gst.EventType.CAPS, 0)
      ) {
        live.shared.showing = true;
        this.applyLayout();
      }
    }
  }

  private detachSharedPicture(live: LiveInput): void {
    const shared = live.shared;
    if (!shared?.bin) return;
    const bin = shared.bin;
    shared.bin = null;
    bin.setState(this.Gst.State.NULL);
    const mixerPad = live.pads.video;
    delete live.pads.video;
    if (mixerPad) {
      bin.getStaticPad('video')?.unlink(mixerPad);
      mixerPad.getParentElement()?.releaseRequestPad(mixerPad);
    }
    this.pipeline.remove(bin);
    collectRemoved();
  }

  /** The decoder went away (it exited, or crashed): placeholder now, and look for it again. */
  private onSharedPictureLost(live: LiveInput, message: string): void {
    const shared = live.shared!;
    if (!shared.bin) return;
    this.detachSharedPicture(live);
    clearTimeout(shared.timer);
    this.applyLayout();
    this.sharedPictureMissing(live, message);
  }

  private sharedPictureMissing(live: LiveInput, message: string): void {
    const shared = live.shared!;
    if (!shared.lostSaid) {
      shared.lostSaid = true;
      this.emit({ event: 'input-lost', data: { id: live.spec.id, what: 'video', message } });
    }
    if (!this.stopRequested)
      shared.timer = setTimeout(() => this.attachSharedPicture(live), SHARED_RETRY_MS);
  }

  private applyLayout(): void {
    if (this.spec.kind === 'audio') return;
    const ordered = this.order.map((id) => this.inputs.get(id)!);
    // A shared picture not attached, or without frames yet, shows as a camera turned off.
    const placements = placeInputs(
      this.spec,
      ordered.map((i) =>
        i.shared && !(i.shared.bin && i.shared.showing) ? { ...i.spec, cameraOn: false } : i.spec,
      ),
    );
    ordered.forEach((live, i) => {
      const place = placements[i]!;
      if (live.pads.video) setPlacement(live.pads.video, place.video);
      setPlacement(live.pads.placeholder!, place.placeholder);
    });
    if (this.spec.kind === 'composite') this.followStillCanvas(ordered.map(cellOf));
  }

  /**
   * A composite whose hosts' pictures come from other recordings shows only placeholders until
   * the first of them serves, seconds after the hosts' cameras are on when the machine is busy
   * starting their recordings: a canvas that stands still through the recorder's doing. It is
   * told like a hold-up of the picture alone, so scoring does not take it for a frozen camera.
   */
  private followStillCanvas(cells: CanvasCell[]): void {
    this.tellStillCanvas(this.stillCanvas.update(this.canvasNowMs(), stillForWantOfPicture(cells)));
  }

  private tellStillCanvas(stretch: Stretch | null): void {
    if (!stretch) return;
    const withinMs = Math.round((2 * 1000) / this.spec.profile.video.fps);
    const ms = stretch.toMs - stretch.fromMs;
    this.emit({
      event: 'held-up',
      data: { fromMs: stretch.fromMs, ms, withinMs, media: 'picture' },
    });
  }

  /**
   * When a layout change reaches the canvas: the mixer's next frame, which lags the clock by the
   * pipeline's latency (half a second and more), so the wall clock would put every change late.
   * Within a frame or two: the next frame starts where the last one ended.
   */
  private canvasNowMs(): number {
    if (!this.started) return Date.now();
    const pad = this.pipeline.getByName(names.videoMixer)?.getStaticPad('src');
    const [ok, position] = pad?.queryPosition(this.Gst.Format.TIME) ?? [false, 0n];
    return ok && position >= 0n
      ? Number((this.baseTimeUtcNs + BigInt(position)) / 1_000_000n)
      : Date.now();
  }

  /** Runs the pending stop once, whichever came first: the pipeline's EOS or the last snippet. */
  private finishStop(): void {
    for (const waiter of this.eosWaiters.splice(0)) waiter();
  }

  private isBranchElement(message: GstMessage): boolean {
    const name = message.src?.name ?? '';
    return (
      name.startsWith(RTMP_ELEMENT_PREFIX) ||
      name.startsWith(HLS_ELEMENT_PREFIX) ||
      name.startsWith(TILE_ELEMENT_PREFIX) ||
      this.sharedInputOf(name) !== undefined
    );
  }

  /** The input whose bin an element is in. */
  private inputOf(element: GstObject | null): LiveInput | undefined {
    if (!element) return undefined;
    for (const live of this.inputs.values())
      if (element === live.bin || element.hasAsAncestor(live.bin)) return live;
    return undefined;
  }

  /**
   * An element of an input failed (a socket, a depayloader, a decoder) and its stream stopped:
   * without this the recording went on with the host's last picture, or silence, to its end.
   * The input is taken out and attached again, in its place on the canvas, with the camera as it
   * was; the placeholder shows meanwhile. Every error its failure posts is one restart.
   */
  private restartInput(live: LiveInput, why: string): void {
    const id = live.spec.id;
    if (this.stopRequested || this.restartTimers.has(id)) return;
    const delayMs = nextRestartDelayMs(this.restarted.get(id), performance.now());
    this.emit({
      event: 'warning',
      data: {
        source: inputNames(id).bin,
        message: `${why}; attaching input ${id} again in ${delayMs} ms`,
      },
    });
    const timer = setTimeout(() => {
      this.restartTimers.delete(id);
      this.restarted.set(id, { delayMs, atMs: performance.now() });
      const current = this.inputs.get(id);
      if (current && !this.stopRequested) this.reattachInput(current);
    }, delayMs);
    this.restartTimers.set(id, timer);
  }

  /** Out and in again, keeping its place in the order; the layout is applied once, after. */
  private reattachInput(live: LiveInput): void {
    live.tile?.end();
    this.detachInput(live);
    this.attachInput(live.spec, this.runningTimeNs());
    this.serveTile(this.inputs.get(live.spec.id)!);
    this.applyLayout();
  }

  /** The input whose shared picture an element belongs to. */
  private sharedInputOf(elementName: string): LiveInput | undefined {
    for (const live of this.inputs.values())
      if (live.shared && inputNames(live.spec.id).sharedSource === elementName) return live;
    return undefined;
  }

  private onMessage(message: GstMessage): void {
    const { Gst } = this;
    if (process.env.TAPEDECK_DEBUG && message.type !== Gst.MessageType.ELEMENT)
      console.error('[worker] bus', message.type, message.src?.name);
    switch (message.type) {
      case Gst.MessageType.ELEMENT:
        this.onElementMessage(message);
        break;
      case Gst.MessageType.LATENCY:
        // An output attached or removed at run time changes the pipeline's latency; redistribute it.
        this.pipeline.recalculateLatency();
        break;
      case Gst.MessageType.QOS: {
        const source = message.src?.name ?? '?';
        // The audio mixer posts from the pad that dropped; the video mixer's pads have the same
        // names, so the pad's element tells them apart.
        const pad = message.src as Partial<GstPad> | null;
        const fromAudioMixer = pad?.getParentElement?.()?.name === names.audioMixer;
        const sound = fromAudioMixer
          ? [...this.inputs.values()].find((i) => i.soundDropped && i.pads.audio.name === source)
          : undefined;
        if (sound) sound.soundDropped!.samples = Number(message.parseQosStats()[2]);
        else this.frameLoss.lateFrame(source);
        break;
      }
      case Gst.MessageType.EOS:
        this.tellFrameLoss(false);
        this.flushClose();
        this.finishStop();
        this.emit({ event: 'eos', data: { snippetsClosed: this.snippetsClosed } });
        break;
      case Gst.MessageType.WARNING: {
        const [warning, debug] = message.parseWarning();
        this.emit({
          event: 'warning',
          data: { source: message.src?.name ?? '?', message: `${warning.message} (${debug})` },
        });
        break;
      }
      case Gst.MessageType.ERROR: {
        const [error, debug] = message.parseError();
        const source = message.src?.name ?? '?';
        const sharedLost = this.sharedInputOf(source);
        if (sharedLost) this.onSharedPictureLost(sharedLost, error.message);
        else if (source.startsWith(TILE_ELEMENT_PREFIX))
          [...this.inputs.values()].find((i) => i.tile?.owns(source))?.tile?.failed(error.message);
        else if (source.startsWith(RTMP_ELEMENT_PREFIX))
          this.onRtmpFailure(`${error.message} (${debug})`);
        else if (source.startsWith(HLS_ELEMENT_PREFIX))
          this.emit({
            event: 'output-failed',
            data: { output: 'hls', message: error.message, retryInMs: -1 },
          });
        else if (this.started) {
          const input = this.inputOf(message.src);
          if (input) this.restartInput(input, `${source}: ${error.message}`);
          else this.emit({ event: 'error', data: { source, message: error.message, debug } });
        }
        break;
      }
    }
  }

  private onElementMessage(message: GstMessage): void {
    const s = message.getStructure();
    if (!s) return;
    const kind = s.getName();
    if (kind !== 'splitmuxsink-fragment-opened' && kind !== 'splitmuxsink-fragment-closed') return;
    if (message.src?.name !== outputNames.recorder) return;
    const location = s.getString('location') ?? '';
    const [, runningTime] = s.getUint64('running-time');
    if (kind === 'splitmuxsink-fragment-opened') {
      // The previous snippet ends where this one starts: splitmuxsink cuts at this keyframe.
      this.flushClose(runningTime);
      this.lastOpened = location;
      this.openedAt.set(location, runningTime);
      this.emit({
        event: 'snippet-opened',
        data: {
          location,
          seq: seqOf(location),
          runningTimeNs: runningTime.toString(),
          utcNs: (this.baseTimeUtcNs + runningTime).toString(),
        },
      });
      return;
    }
    const start = this.openedAt.get(location) ?? runningTime;
    this.openedAt.delete(location);
    this.flushClose();
    const next = this.lastOpened;
    if (next !== undefined && next !== location) {
      // The next snippet opened first: it starts where this one ends.
      this.emitClosed(location, start, this.openedAt.get(next) ?? runningTime);
      return;
    }
    // Normally the next snippet opens within milliseconds; a stop may still cut one more.
    const timer = setTimeout(() => {
      this.flushClose();
      // Give the sinks a moment to post EOS themselves; the waiters run once either way.
      if (this.stopRequested && location === this.lastOpened) this.finishStop();
    }, CLOSE_HOLD_MS);
    this.pendingClose = { location, start, reportedEnd: runningTime, timer };
  }

  /**
   * Announces the snippet closed last. The running time splitmuxsink reports on close is read when
   * the file's sink finishes, by which time the picture may be a few frames behind the sound (a
   * shared decoder's frames come later than the recording's own audio), so it can fall short of
   * where the next snippet starts. A snippet followed by another ends where that one starts.
   */
  private flushClose(nextStart?: bigint): void {
    const closing = this.pendingClose;
    if (!closing) return;
    this.pendingClose = undefined;
    clearTimeout(closing.timer);
    this.emitClosed(closing.location, closing.start, nextStart ?? closing.reportedEnd);
  }

  private emitClosed(location: string, start: bigint, end: bigint): void {
    this.snippetsClosed++;
    const pictures = this.pictures?.windows(start, end);
    this.emit({
      event: 'snippet-closed',
      data: {
        location,
        seq: seqOf(location),
        startRunningTimeNs: start.toString(),
        endRunningTimeNs: end.toString(),
        startUtcNs: (this.baseTimeUtcNs + start).toString(),
        endUtcNs: (this.baseTimeUtcNs + end).toString(),
        ...(pictures ? { pictures } : {}),
      },
    });
  }

  /**
   * A dead RTMP server costs the live stream only: the valves close, the branch is taken out, and
   * a fresh one is attached after a growing pause.
   */
  private onRtmpFailure(message: string): void {
    if (this.rtmpState === 'failed') return;
    this.rtmpState = 'failed';
    const delay = RTMP_RETRY_MS[Math.min(this.rtmpFailures, RTMP_RETRY_MS.length - 1)]!;
    this.rtmpFailures++;
    this.emit({ event: 'output-failed', data: { output: 'rtmp', message, retryInMs: delay } });
    this.detachRtmp();
    this.rtmpRetry = setTimeout(() => {
      if (!this.stopRequested) this.attachRtmp();
    }, delay);
  }

  /**
   * splitmuxsink hands a GOP to the muxer only once the next keyframe arrives, so nothing reaches
   * the file before the first GOP is whole. Asking the encoder for a keyframe as soon as the
   * pipeline plays makes that first GOP a frame or two long.
   */
  private shortenFirstGop(): void {
    const { Gst } = this;
    const pad = this.pipeline.getByName(names.videoEncoder)?.getStaticPad('src');
    if (!pad) return;
    const event = Gst.Event.newCustom(
      Gst.EventType.CUSTOM_UPSTREAM,
      Gst.Structure.newFromString('GstForceKeyUnit, all-headers=(boolean)true'),
    );
    pad.sendEvent(event);
  }

  /** A fresh branch each time, linked behind the valves, which open once it plays. */
  private attachRtmp(): void {
    const { Gst } = this;
    const branch = Gst.parseBinFromDescription(rtmpBranch(this.spec.rtmpUrl!), false);
    branch.name = RTMP_BRANCH;
    for (const [pad, queue] of [
      ['video', outputNames.rtmpVideoQueue],
      ['audio', outputNames.rtmpAudioQueue],
    ] as const) {
      branch.addPad(Gst.GhostPad.new(pad, branch.getByName(queue)!.getStaticPad('sink')!));
    }
    this.pipeline.add(branch);
    const valves = this.rtmpValves();
    valves[0].getStaticPad('src')!.link(branch.getStaticPad('video')!);
    valves[1].getStaticPad('src')!.link(branch.getStaticPad('audio')!);
    branch.syncStateWithParent();
    for (const valve of valves) valve.drop = false;
    this.rtmpState = 'streaming';
    if (this.rtmpFailures > 0) this.emit({ event: 'output-restored', data: { output: 'rtmp' } });
  }

  /** Close the valves now; take the branch out once nothing can still be pushing into it. */
  private detachRtmp(): void {
    for (const valve of this.rtmpValves()) valve.drop = true;
    setTimeout(() => {
      const branch = this.pipeline.getByName(RTMP_BRANCH);
      if (!branch) return;
      branch.setState(this.Gst.State.NULL);
      this.pipeline.remove(branch);
      collectRemoved();
    }, 200);
  }

  private rtmpValves(): [GstElement, GstElement] {
    return [
      this.pipeline.getByName(outputNames.rtmpVideoValve)!,
      this.pipeline.getByName(outputNames.rtmpAudioValve)!,
    ];
  }
}

const RTMP_BRANCH = 'rtmp_branch';

/** Starts a socket held out of the pipeline's start (see holdMicrophoneSockets). */
function startReading(socket: GstElement): boolean {
  socket.setLockedState(false);
  return socket.syncStateWithParent();
}

/**
 * A worker held up between binding its sockets and playing, as on a machine too busy to run it:
 * for tests of what that does to a recording. Unset, nothing waits.
 */
function holdBeforePlaying(): void {
  const ms = Number(process.env.TAPEDECK_TEST_HOLD_BEFORE_PLAYING_MS ?? 0);
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function setPlacement(pad: GstPad, p: PadPlacement): void {
  pad.xpos = p.x;
  pad.ypos = p.y;
  pad.width = p.width;
  pad.height = p.height;
  pad.zorder = p.zorder;
  pad.alpha = p.alpha;
}

/** splitmuxsink's fragment index, from the `_%06d` in the file name. */
function seqOf(location: string): number {
  return Number(/_(\d+)\.\w+$/.exec(location)?.[1] ?? -1);
}

/** What an input puts on the canvas as laid out (applyLayout). */
function cellOf(live: LiveInput): CanvasCell {
  if (!live.spec.cameraOn) return 'camera-off';
  return live.shared && !(live.shared.bin && live.shared.showing) ? 'awaited' : 'picture';
}
