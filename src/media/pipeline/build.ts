import { gridLayout, type Rect } from '../../domain/layout.ts';
import { aacEncoder, mp3Encoder, names, videoEncoder } from './encoders.ts';
import {
  audioBufferNs,
  baseSilenceSamples,
  inputFragments,
  inputNames,
  STILL_PICTURE_FPS,
  sharedCamera,
  sharedVideoOf,
  tileOf,
  tileServer,
} from './inputs.ts';
import {
  hlsOutput,
  mp3Recorder,
  mp4Recorder,
  picturesOutput,
  rtmpOutput,
  rtmpValves,
} from './outputs.ts';
import { snippetExtension, validateSpec, type InputSpec, type RecordingSpec } from './spec.ts';

/** Compositor pad settings for one picture on the canvas. */
export interface PadPlacement extends Rect {
  zorder: number;
  alpha: number;
}

export interface InputPlacement {
  video: PadPlacement;
  placeholder: PadPlacement;
}

export interface BuiltPipeline {
  /** Mixers, encoders and outputs without any input or RTMP sink: the media worker adds those itself. */
  core: string;
  /** The whole pipeline with its initial inputs, for gst-launch-1.0 (benchmarks and debugging). */
  launch: string;
  /** splitmuxsink location pattern. */
  location: string;
}

export interface BuildOptions {
  /** First snippet's sequence number, so a restarted recording goes on numbering. */
  startIndex?: number;
  /**
   * Where the pictures scoring measures are written (see picturesOutput); without it a video
   * recording takes none, and its snippets are measured from their files.
   */
  picturesDir?: string;
}

/** Where each input's picture and placeholder go; camera state decides which of the two shows. */
export function placeInputs(
  spec: Pick<RecordingSpec, 'kind' | 'profile'>,
  inputs: InputSpec[],
): InputPlacement[] {
  const canvas = spec.profile.video;
  const cells =
    spec.kind === 'composite'
      ? gridLayout(canvas, inputs.length).cells
      : inputs.map(() => ({ x: 0, y: 0, width: canvas.width, height: canvas.height }));
  return inputs.map((input, i) => {
    const cell = cells[i]!;
    return {
      video: { ...cell, zorder: 1, alpha: input.cameraOn ? 1 : 0 },
      placeholder: { ...cell, zorder: 2, alpha: input.cameraOn ? 0 : 1 },
    };
  });
}

export function snippetLocation(spec: RecordingSpec): string {
  return `${spec.outDir}/${spec.recordingId}_%06d.${snippetExtension(spec.kind)}`;
}

/**
 * A camera's pad holds its last frame after EOS. At a stop every source ends at once, but a
 * camera's frames reach the mixer later than the base picture's (jitter buffer, decoding, a
 * tile's hand-over), so without it a recording's last fifth of a second or so showed the
 * background where the host was. A pad never ends otherwise: a host that leaves has its pad
 * released, and a shared picture that ends is taken off within four seconds.
 */
export const CAMERA_PAD_HOLDS_LAST_FRAME = 'repeat-after-eos';

function padProps(pad: string, p: PadPlacement, camera: boolean): string {
  return [
    ...(camera ? [`${pad}::${CAMERA_PAD_HOLDS_LAST_FRAME}=true`] : []),
    `${pad}::xpos=${p.x}`,
    `${pad}::ypos=${p.y}`,
    `${pad}::width=${p.width}`,
    `${pad}::height=${p.height}`,
    `${pad}::zorder=${p.zorder}`,
    `${pad}::alpha=${p.alpha}`,
    `${pad}::sizing-policy=keep-aspect-ratio`,
  ].join(' ');
}

/**
 * Turns a recording spec into pipeline descriptions. A black base picture and a silent base track
 * keep the mixers producing a continuous timeline even when every host has left.
 */
export function buildPipeline(spec: RecordingSpec, options: BuildOptions = {}): BuiltPipeline {
  validateSpec(spec);
  const p = spec.profile;
  const hasVideo = spec.kind !== 'audio';
  const location = snippetLocation(spec);
  const recorder = { location, startIndex: options.startIndex ?? 0 };

  const base: string[] = [
    // Silence in 100 ms buffers whatever the recording's own: a live source's every buffer wakes
    // it and the mixer, and the base and its 16x16 black picture below at 15 fps were 0.7 % of a
    // core of a host recording's 9.2 (bare pipeline). Its latency, one buffer, is no more than a
    // microphone's jitter buffer already has the mixer wait.
    `audiotestsrc is-live=true wave=silence samplesperbuffer=${baseSilenceSamples(p.audio.sampleRate)} ! audio/x-raw,rate=${p.audio.sampleRate},channels=${p.audio.channels} ! ${names.audioMixer}.`,
  ];
  const outputs: string[] = [];
  const coreOutputs: string[] = [];
  if (hasVideo) {
    // The compositor paints the black background itself; the base input only has to keep time,
    // so a tiny one does (a canvas-sized one cost 5 % of a core for nothing), at the placeholders'
    // rate: the mixer then waits as long from its start as once a host's placeholder joins.
    base.push(
      `videotestsrc is-live=true pattern=black ! video/x-raw,width=16,height=16,` +
        `framerate=${STILL_PICTURE_FPS}/1 ! ${names.videoMixer}.sink_0`,
    );
    const common = [
      ...mp4Recorder(p, recorder),
      ...(spec.hlsDir ? hlsOutput(spec.hlsDir) : []),
      ...(options.picturesDir ? picturesOutput(options.picturesDir) : []),
    ];
    outputs.push(...common, ...(spec.rtmpUrl ? rtmpOutput(spec.rtmpUrl) : []));
    coreOutputs.push(...common, ...(spec.rtmpUrl ? rtmpValves(false) : []));
  } else {
    outputs.push(...mp3Recorder(p, recorder));
    coreOutputs.push(...outputs);
  }

  const videoMixer = (extra: string) =>
    `compositor name=${names.videoMixer} background=black sink_0::zorder=0${extra} ! ${videoEncoder(p, { rawTee: options.picturesDir !== undefined })}`;
  const audioMixer = `audiomixer name=${names.audioMixer} output-buffer-duration=${audioBufferNs(hasVideo)} ! ${hasVideo ? aacEncoder(p) : mp3Encoder(p)}`;

  const core = [...(hasVideo ? [videoMixer('')] : []), audioMixer, ...base, ...coreOutputs];

  const placements = placeInputs(spec, spec.inputs);
  const inputPads: string[] = [];
  const inputLinks: string[] = [];
  spec.inputs.forEach((input, i) => {
    const n = inputNames(input.id);
    inputLinks.push(
      ...inputFragments(input, {
        fps: p.video.fps,
        sampleRate: p.audio.sampleRate,
        index: i,
        timestampOffsetNs: 0,
        withVideo: hasVideo,
      }),
    );
    const shared = sharedVideoOf(input);
    if (hasVideo && shared) inputLinks.push(sharedCamera(input.id, shared));
    // The media worker attaches a tile server once the pipeline plays (its port may still be busy).
    const tile = hasVideo ? tileOf(input) : null;
    if (tile) inputLinks.push(`${n.tileTee}. ! ${tileServer(input.id, tile, p.video.fps)}`);
    inputLinks.push(`${n.audio}. ! ${names.audioMixer}.`);
    if (hasVideo) {
      const place = placements[i]!;
      const videoPad = `sink_${2 * i + 1}`;
      const placeholderPad = `sink_${2 * i + 2}`;
      inputPads.push(
        padProps(videoPad, place.video, true),
        padProps(placeholderPad, place.placeholder, false),
      );
      inputLinks.push(
        `${n.video}. ! ${names.videoMixer}.${videoPad}`,
        `${n.placeholder}. ! ${names.videoMixer}.${placeholderPad}`,
      );
    }
  });
  const launchParts = [
    ...(hasVideo ? [videoMixer(inputPads.length ? ' ' + inputPads.join(' ') : '')] : []),
    audioMixer,
    ...base,
    ...outputs,
    ...inputLinks,
  ];
  return { core: core.join('  '), launch: launchParts.join('  '), location };
}
