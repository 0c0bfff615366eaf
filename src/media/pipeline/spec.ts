import { assertId } from '../../domain/ids.ts';
import { validateProfile, type OutputProfile } from '../../domain/profile.ts';

/** composite: all hosts on one canvas; host: one host, audio and video; audio: one host, MP3 only. */
export type RecordingKind = 'composite' | 'host' | 'audio';
export const RECORDING_KINDS: readonly RecordingKind[] = ['composite', 'host', 'audio'];

export const MAX_COMPOSITE_INPUTS = 9;

/** Test sources stand in for a host until WebRTC ingest provides real ones. */
export interface SyntheticSource {
  type: 'synthetic';
  /** bars: colour bars scrolling sideways, cheap to draw; noise: hard to encode; sync: the picture inverts and a tick sounds on every whole second, to measure A/V sync. */
  pattern: 'bars' | 'sync' | 'noise';
  /** Frequency of the host's tone; 0 for a silent host. */
  toneHz: number;
}

/**
 * A WebRTC host: the ingest forwards the host's RTP to loopback UDP ports, one pair per recording,
 * so a recording that falls behind loses packets instead of holding up the others.
 */
export interface RtpSource {
  type: 'rtp';
  video: RtpVideo | SharedVideo | null;
  audio: { port: number; codec: 'OPUS'; payloadType: number } | null;
}

/** The host's video as RTP, decoded by the recording itself. */
export interface RtpVideo {
  port: number;
  codec: 'H264' | 'VP8';
  payloadType: number;
  /**
   * Loopback UDP port for the recorder's RTCP: receiver reports, and a PLI whenever its
   * depayloader loses sync. The sender must keep one SSRC and payload type on the port, as
   * LiveIngest does across a host's sessions.
   */
  feedbackPort?: number;
  /** Serve the decoded picture to the host's composite on this node, as a ready-scaled tile. */
  tile?: TileServe;
}

/**
 * A host's recording that decodes the host's picture also serves it to the composite, already
 * scaled to the largest tile the composite shows, so the composite decodes nothing of its own.
 */
export interface TileServe {
  /** Loopback TCP port the composite reads the tiles from, the same for every recording of the host. */
  port: number;
  width: number;
  height: number;
}

/**
 * The host's video already decoded, once for every recording of the host on this machine: raw
 * camera-sized frames that a decoder process puts in shared memory behind this socket.
 */
export interface SharedVideo {
  /** Loopback TCP port of the host's shared decoder. */
  framesPort: number;
}

export function isSharedVideo(v: RtpVideo | SharedVideo): v is SharedVideo {
  return 'framesPort' in v;
}

export type InputSource = SyntheticSource | RtpSource;

export interface InputSpec {
  /** Host id; names the input's elements, so it follows the id rules. */
  id: string;
  /** Shown on the tile and on the placeholder while the camera is off. */
  displayName: string;
  source: InputSource;
  cameraOn: boolean;
}

export interface RecordingSpec {
  kind: RecordingKind;
  recordingId: string;
  /** Spool folder the snippets are written to. */
  outDir: string;
  profile: OutputProfile;
  inputs: InputSpec[];
  /** rtmp:// or rtmps:// URL; only the composite streams live. */
  rtmpUrl?: string;
  /** Folder for an HLS playlist and its segments. */
  hlsDir?: string;
  /**
   * Inputs may come from shared decoders (a composite on a node that runs them): the mixer waits
   * for their frames from the start, as it must not start waiting longer once it runs.
   */
  sharedPictures?: boolean;
}

export class SpecError extends Error {
  override name = 'SpecError';
}

export function validateSpec(spec: RecordingSpec): void {
  assertId('recording id', spec.recordingId);
  validateProfile(spec.profile);
  const max = spec.kind === 'composite' ? MAX_COMPOSITE_INPUTS : 1;
  if (spec.kind !== 'composite' && spec.inputs.length !== 1)
    throw new SpecError(
      `a ${spec.kind} recording has exactly one input, not ${spec.inputs.length}`,
    );
  if (spec.inputs.length > max)
    throw new SpecError(`a composite takes 1 to ${max} inputs, not ${spec.inputs.length}`);
  const seen = new Set<string>();
  for (const input of spec.inputs) {
    assertId('input id', input.id);
    if (seen.has(input.id)) throw new SpecError(`input id ${input.id} appears twice`);
    seen.add(input.id);
    const video = input.source.type === 'rtp' ? input.source.video : null;
    const tile = video && !isSharedVideo(video) ? video.tile : undefined;
    if (tile) {
      if (spec.kind !== 'host')
        throw new SpecError(`only a host's own recording serves tiles, not a ${spec.kind} one`);
      if (tile.width % 2 || tile.height % 2 || tile.width < 2 || tile.height < 2)
        throw new SpecError(`tile ${tile.width}x${tile.height} must be even on both sides`);
    }
  }
  if (spec.rtmpUrl !== undefined) {
    if (spec.kind === 'audio') throw new SpecError('an audio recording cannot stream RTMP');
    if (!/^rtmps?:\/\/[^\s/]+\/\S+$/.test(spec.rtmpUrl))
      throw new SpecError(`RTMP URL "${spec.rtmpUrl}" is not rtmp://HOST[:PORT]/APP/STREAM`);
  }
  if (spec.hlsDir !== undefined && spec.kind === 'audio')
    throw new SpecError('an audio recording has no HLS output');
}

export function snippetExtension(kind: RecordingKind): 'mp4' | 'mp3' {
  return kind === 'audio' ? 'mp3' : 'mp4';
}
