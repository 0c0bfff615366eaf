import type { Size } from '../../domain/profile.ts';
import {
  isSharedVideo,
  type InputSpec,
  type RtpVideo,
  type SharedVideo,
  type TileServe,
} from './spec.ts';
import { quote } from './quote.ts';

/** Element names of one input; the worker finds them by these names. */
export function inputNames(id: string) {
  return {
    bin: `in_${id}`,
    video: `in_${id}_v`,
    audio: `in_${id}_a`,
    /** The microphone's jitter buffer, whose timestamps the drift guard moves. */
    audioJitter: `in_${id}_aj`,
    /** The microphone's socket, which a recording starts reading only once it plays. */
    audioSocket: `in_${id}_as`,
    placeholder: `in_${id}_p`,
    /** The camera's RTP session, present when the recorder sends RTCP back. */
    session: `in_${id}_vs`,
    /** A shared decoder's frames: a bin of its own, so losing the decoder costs the picture only. */
    shared: `in_${id}_sv`,
    sharedSource: `in_${id}_frames`,
    /** Where a host's recording that serves tiles splits its decoded picture. */
    tileTee: `in_${id}_vt`,
  };
}

/** Prefix of every element of a tile server; an error in one costs the tiles, not the recording. */
export const TILE_ELEMENT_PREFIX = 'tile_';

/** Element names of the tile server of one input. */
export function tileNames(id: string) {
  return {
    bin: `${TILE_ELEMENT_PREFIX}${id}`,
    queue: `${TILE_ELEMENT_PREFIX}${id}_q`,
    sink: `${TILE_ELEMENT_PREFIX}${id}_sink`,
  };
}

/**
 * Raw size of every camera branch: the synthetic camera's, and what a real one is scaled to (its
 * size varies) before the compositor fits it to its cell.
 */
export const CAMERA: Size = { width: 640, height: 360 };
const PLACEHOLDER: Size = { width: 320, height: 180 };
/**
 * Frame rate of pictures that never move: placeholder tiles and the mixer's black base. The
 * compositor repeats the last one, and a live source reports one frame as its latency, so this
 * is also the least the video mixer waits (200 ms).
 */
export const STILL_PICTURE_FPS = 5;

/** One bar chart per host, so neighbouring tiles look different. */
const BARS = ['smpte', 'smpte75', 'smpte100', 'bar'];

/** Period of the sync pattern: videotestsrc's ball flips every 50 frames. */
export function syncPeriodNs(fps: number): number {
  return Math.round((50 * 1e9) / fps);
}

export interface InputFragmentOptions {
  fps: number;
  sampleRate: number;
  /** Index of the input, used only for its colour. */
  index: number;
  /** Running time at which the input joins, so a source added mid-recording is not late. */
  timestampOffsetNs: number;
  withVideo: boolean;
}

/**
 * The sources of one host: camera, microphone and the placeholder tile shown while the camera is
 * off. Each branch ends in a named queue, whose src pad links to the mixers.
 */
export function inputFragments(input: InputSpec, o: InputFragmentOptions): string[] {
  const n = inputNames(input.id);
  const fragments: string[] = [];
  if (o.withVideo) {
    // A shared decoder's picture is attached on its own (sharedCamera), not in the input's bin.
    if (sharedVideoOf(input) === null)
      fragments.push(`${cameraSource(input, o)} ! queue name=${n.video} max-size-time=1000000000`);
    // A small live tile: unlike a frozen image it ends with EOS. It never moves, so a few frames a
    // second are enough (the compositor repeats the last one) and cost a third of the output rate.
    fragments.push(
      `videotestsrc is-live=true pattern=solid-color foreground-color=0xff303038 timestamp-offset=${o.timestampOffsetNs} ! ` +
        `video/x-raw,format=I420,width=${PLACEHOLDER.width},height=${PLACEHOLDER.height},framerate=${STILL_PICTURE_FPS}/1 ! ` +
        `textoverlay text=${quote(`${input.displayName}\ncamera off`)} valignment=center halignment=center font-desc="Sans 16" ! ` +
        `queue name=${n.placeholder} max-size-time=1000000000`,
    );
  }
  fragments.push(
    `${microphoneSource(input, o)} ! audio/x-raw,rate=${o.sampleRate},channels=1 ! queue name=${n.audio} max-size-time=1000000000`,
  );
  return fragments;
}

// A jitter buffer of 100 ms rides out loopback hiccups (nothing on loopback resends, so it waits
// for no retransmission); every 100 ms of it is 100 ms later a joining host's first recorded frame.
const JITTER_MS = 100;
const SECOND_NS = 1_000_000_000;
const UDP_BUFFER = 4 * 1024 * 1024;

/**
 * Video's jitter buffer follows the sender's clock (mode "slave", its skew estimate): a sender's
 * video clock may run off ours. The burst of packets right after DTLS, which this mode hands on
 * partly untimed, is dropped or timed by the camera branch's videorate.
 *
 * Audio's takes the first packet's arrival as the base and RTP time after it (mode "synced"). In
 * "slave" mode a packet more than 1 s later than the skew estimate makes the jitter buffer start
 * over from that packet, as if the sender had restarted its clock: a recorder or a publisher
 * stalled for 1.5 s put every later sound 1.5 s behind its picture, for good, and left a hole of
 * silence as long (measured: +1.53 s after the stall against +0.05 s before it). RTP time does
 * not stall, so "synced" keeps the sound where the sender put it; a sender whose sound card runs
 * off our clock is followed by the recorder's drift guard (`AudioDrift`) instead.
 */
type JitterMode = 'slave' | 'synced';

function udpSource(port: number, caps: string, extra = ''): string {
  // 4 MB receive buffers: a burst of joins otherwise loses packets before the pipeline reads them.
  // Without SO_REUSEADDR (udpsrc sets it by default) a port another recorder took fails the bind
  // loudly; with it, both would bind and the kernel would hand every packet to one of them.
  return `udpsrc address=127.0.0.1 port=${port} reuse=false buffer-size=${UDP_BUFFER}${extra} caps=${quote(caps)}`;
}

function jitterBuffer(mode: JitterMode, name?: string): string {
  return `rtpjitterbuffer${name ? ` name=${name}` : ''} latency=${JITTER_MS} mode=${mode}`;
}

/** RTP off a socket into a jitter buffer; either may be named for the worker to find. */
function rtpUdp(
  port: number,
  caps: string,
  mode: JitterMode,
  named: { socket?: string; jitter?: string } = {},
): string {
  const socket = named.socket ? ` name=${named.socket}` : '';
  return `${udpSource(port, caps, socket)} ! ${jitterBuffer(mode, named.jitter)}`;
}

/**
 * Video RTP through an RTP session that reports back to the sender over loopback UDP. A
 * depayloader that loses sync asks upstream for a keyframe; the session turns that into a PLI
 * only when the request names the stream's SSRC and payload type, which the two demuxers add on
 * its way up (each then has one pad, as the sender keeps both fixed). The AVPF profile lets a PLI
 * go out at once rather than with the next regular report, up to 5 s later. NACK is offered in
 * the caps, but the jitter buffer asks for no retransmissions: nothing on loopback resends.
 * udpsrc leaves out the sender's address: each session of a host forwards from a socket of its
 * own, and the RTP session took the same SSRC from a new address for a collision and dropped
 * every packet after a host came back.
 */
function rtpWithFeedback(
  session: string,
  port: number,
  caps: string,
  feedbackPort: number,
  mode: JitterMode,
): string {
  return (
    `rtpsession name=${session} rtp-profile=avpf ` +
    `${udpSource(port, `${caps},rtcp-fb-nack-pli=(int)1,rtcp-fb-nack=(int)1`, ' retrieve-sender-address=false')} ! ${session}.recv_rtp_sink ` +
    `${session}.send_rtcp_src ! udpsink host=127.0.0.1 port=${feedbackPort} sync=false async=false ` +
    `${session}.recv_rtp_src ! rtpssrcdemux ! ${jitterBuffer(mode)} ! rtpptdemux`
  );
}

// I420 is what the compositor blends in, so it only scales the cameras and never converts them.
const CAMERA_FORMAT = `format=I420,width=${CAMERA.width},height=${CAMERA.height}`;

/** The host's shared decoder, when its picture comes from one. */
export function sharedVideoOf(input: InputSpec): SharedVideo | null {
  const v = input.source.type === 'rtp' ? input.source.video : null;
  return v && isSharedVideo(v) ? v : null;
}

/** A host's RTP decoded, frames as the sender sent them. */
function decodedRtp(v: RtpVideo, session: string): string {
  const decode =
    v.codec === 'H264'
      ? 'rtph264depay request-keyframe=true ! h264parse ! avdec_h264'
      : 'rtpvp8depay request-keyframe=true ! vp8dec';
  const caps = `application/x-rtp,media=video,clock-rate=90000,encoding-name=${v.codec},payload=${v.payloadType}`;
  const rtp =
    v.feedbackPort === undefined
      ? rtpUdp(v.port, caps, 'slave')
      : rtpWithFeedback(session, v.port, caps, v.feedbackPort, 'slave');
  return `${rtp} ! ${decode}`;
}

/**
 * Decoded frames paced and scaled for a mixer. A mixer stops for good on one frame without a
 * timestamp, which a jitter buffer hands on when packets arrive in a burst. videorate drops a
 * leading untimed frame, gives a later one the time of the frame before, and paces the camera at
 * the output rate, so frames beyond it are dropped before they cost a scaling; after a gap of a
 * second or more (a stalled or turned-off camera) it repeats nothing. Browsers change resolution
 * mid-stream; scaling with borders keeps every frame the same size.
 *
 * Frames served to other recordings (a shared decoder, a tile) are only dropped (at most `fps` a
 * second): a repeated frame would be sent to every reader again, and the readers' mixers repeat
 * the last frame themselves; and a frame kept at its own time is put on a reader's frame
 * instants once, by the reader, not twice.
 */
function pacedPicture(fps: number, pace: 'repeat' | 'drop-only', size: Size): string {
  const rate =
    pace === 'repeat'
      ? `videorate max-duplication-time=${SECOND_NS} ! video/x-raw,framerate=${fps}/1`
      : `videorate drop-only=true max-rate=${fps}`;
  return (
    `${rate} ! videoconvertscale add-borders=true ! ` +
    `video/x-raw,format=I420,width=${size.width},height=${size.height},pixel-aspect-ratio=1/1`
  );
}

/**
 * Camera-sized raw frames from a host's RTP: what a recording decodes for itself, and what a
 * shared decoder process decodes once for all of them. `session` names the RTP session that
 * sends RTCP back when the video has a feedback port.
 */
export function decodedCamera(
  v: RtpVideo,
  session: string,
  fps: number,
  pace: 'repeat' | 'drop-only' = 'repeat',
): string {
  return `${decodedRtp(v, session)} ! ${pacedPicture(fps, pace, CAMERA)}`;
}

/**
 * Frames served on a loopback port to recordings on the node, each with its timestamps. gdppay
 * wraps each frame, and puts caps, segment and stream start in the stream header tcpserversink
 * gives every reader first, whenever it connects: a recording that attaches, or attaches again,
 * mid-stream gets what it needs to read the frames. A reader more than a few frames behind skips
 * to the newest one, so a recording that falls behind never holds up the others; without a
 * reader the frames are dropped.
 */
export function framesServer(port: number, name?: string): string {
  return (
    `gdppay ! tcpserversink ${name ? `name=${name} ` : ''}host=127.0.0.1 port=${port} ` +
    `sync=false async=false unit-format=buffers units-soft-max=${READER_SLACK_FRAMES} recover-policy=latest`
  );
}

/** Frames a reader may fall behind before it is moved on to the newest one. */
const READER_SLACK_FRAMES = 8;

/**
 * A host recording's tile server: the decoded picture, before the recording paces it, scaled to
 * the composite's largest tile and served to it. Its frames carry the wall-clock times of the
 * recording's jitter buffer (a pad offset of the recording's base time puts them there), as a
 * shared decoder's do, so the composite reads them the same way. The leaky queue keeps a slow
 * reader from ever holding up the recording.
 */
export function tileServer(id: string, tile: TileServe, fps: number): string {
  const n = tileNames(id);
  return (
    `queue name=${n.queue} max-size-buffers=3 max-size-time=0 max-size-bytes=0 leaky=downstream ! ` +
    `${pacedPicture(fps, 'drop-only', tile)} ! ${framesServer(tile.port, n.sink)}`
  );
}

/** The tile a host's recording serves, when it serves one. */
export function tileOf(input: InputSpec): TileServe | null {
  const v = input.source.type === 'rtp' ? input.source.video : null;
  return v && !isSharedVideo(v) ? (v.tile ?? null) : null;
}

/**
 * A shared decoder's frames with the timestamps its jitter buffer gave them: wall-clock times
 * (src/media/decoder), which the recording turns into its own running time with a pad offset.
 * The queue holds a few frames and drops the oldest beyond them: a mixer that falls behind reads
 * on from the newest.
 */
export function sharedCamera(id: string, video: SharedVideo): string {
  const n = inputNames(id);
  return (
    `tcpclientsrc name=${n.sharedSource} host=127.0.0.1 port=${video.framesPort} ! gdpdepay ! ` +
    `queue name=${n.video} max-size-buffers=3 max-size-time=0 max-size-bytes=0 leaky=downstream`
  );
}

/**
 * The pad offset that puts a shared decoder's frames on a recording's timeline. Their timestamps
 * are wall-clock times, and the recording's running time is the wall clock less its base time.
 * Half a frame more: the mixer shows, for each output frame, the input frame that starts within
 * it, up to a frame ahead of its time; a recording's own decode hands it frames retimed by
 * videorate to the nearest output instant. Half a frame later, the mixer's pick is the nearest
 * one too, and the picture keeps the timing the recording's own decode would give it.
 */
export function sharedPictureOffsetNs(baseTimeUtcNs: bigint, fps: number): bigint {
  return -baseTimeUtcNs + BigInt(Math.round(SECOND_NS / fps / 2));
}

function cameraSource(input: InputSpec, o: InputFragmentOptions): string {
  const ts = `timestamp-offset=${o.timestampOffsetNs}`;
  const size = CAMERA_FORMAT;
  const src = input.source;
  if (src.type === 'rtp') {
    if (!src.video || isSharedVideo(src.video))
      return `videotestsrc is-live=true pattern=black ${ts} ! video/x-raw,${size},framerate=${STILL_PICTURE_FPS}/1`;
    const n = inputNames(input.id);
    if (src.video.tile)
      return (
        `${decodedRtp(src.video, n.session)} ! tee name=${n.tileTee} allow-not-linked=true ! ` +
        pacedPicture(o.fps, 'repeat', CAMERA)
      );
    return decodedCamera(src.video, n.session, o.fps);
  }
  const caps = `video/x-raw,${size},framerate=${o.fps}/1`;
  const label = `text=${quote(input.displayName)} valignment=top halignment=left font-desc="Sans Bold 28"`;
  const camera =
    src.pattern === 'sync'
      ? // The ball pattern inverts the picture every 50 frames; the tick below sounds on the same instants.
        `videotestsrc is-live=true pattern=ball flip=true ${ts} ! ${caps}`
      : src.pattern === 'noise'
        ? `videotestsrc is-live=true pattern=snow ${ts} ! ${caps}`
        : // Scrolling bars cost a third of what the ball pattern does (it paints every pixel
          // through a slow per-pixel path), and a camera-sized picture per host adds up.
          `videotestsrc is-live=true pattern=${BARS[o.index % BARS.length]} horizontal-speed=${2 + (o.index % 3)} ${ts} ! ${caps}`;
  return `${camera} ! textoverlay ${label}`;
}

/**
 * Audio moves in 40 ms buffers, the mixer's output included: every buffer costs its way through
 * mixer, converter, encoder and muxer, and at GStreamer's default 10 ms that per-buffer work cost
 * more than the MP3 encoding itself. 40 ms adds no delay a recording can notice. An audio-only
 * recording has no picture to keep in step with, so it takes 100 ms: its bare pipeline measured
 * 1.3-1.5 % of a core against 2.1-2.3 % at 40 ms (steady, two runs each). With video, 100 ms put
 * the composite's audio up to 60 ms off its picture (the runtime-changes test allows 40).
 */
export function audioBufferNs(withVideo: boolean): number {
  return withVideo ? 40_000_000 : 100_000_000;
}

export function audioBufferSamples(sampleRate: number, withVideo: boolean): number {
  return Math.round((sampleRate * audioBufferNs(withVideo)) / 1e9);
}

/** The mixer's silent base keeps time only, so it takes an audio-only recording's 100 ms buffers. */
export function baseSilenceSamples(sampleRate: number): number {
  return audioBufferSamples(sampleRate, false);
}

function microphoneSource(input: InputSpec, o: InputFragmentOptions): string {
  const ts = `samplesperbuffer=${audioBufferSamples(o.sampleRate, o.withVideo)} timestamp-offset=${o.timestampOffsetNs}`;
  const src = input.source;
  if (src.type === 'rtp') {
    if (!src.audio) return `audiotestsrc is-live=true wave=silence ${ts}`;
    const a = src.audio;
    const n = inputNames(input.id);
    return (
      `${rtpUdp(a.port, `application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=${a.payloadType}`, 'synced', { socket: n.audioSocket, jitter: n.audioJitter })} ! ` +
      'rtpopusdepay ! opusdec plc=true ! audioconvert ! audioresample'
    );
  }
  // A tone from a table, as ffmpeg's sine source makes it: wave=sine calls sin() per sample,
  // which cost about five times as much (0.36 against 0.08 s of CPU for 600 s of stereo).
  return src.pattern === 'sync'
    ? `audiotestsrc is-live=true wave=ticks tick-interval=${syncPeriodNs(o.fps)} freq=1000 volume=0.8 ${ts}`
    : src.toneHz > 0
      ? `audiotestsrc is-live=true wave=sine-table freq=${src.toneHz} volume=0.2 ${ts}`
      : `audiotestsrc is-live=true wave=silence ${ts}`;
}
