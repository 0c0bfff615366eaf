import { decodedCamera } from './inputs.ts';
import type { RtpVideo } from './spec.ts';

export interface SharedDecoderSpec {
  /** The host's video RTP as the ingest forwards it, with the feedback port for its RTCP. */
  video: RtpVideo;
  /** Loopback TCP port the readers connect to. */
  framesPort: number;
  fps: number;
}

/** Frames a reader may fall behind before it is moved on to the newest one. */
const READER_SLACK_FRAMES = 8;

/**
 * A host's video decoded once: the same RTP path, decoder, pacing and scaling a recording uses
 * for itself, with the frames served on a loopback port to every recording of the host on the
 * node. gdppay wraps each frame with its timestamps, and puts caps, segment and stream start in
 * the stream header tcpserversink gives every reader first, whenever it connects: a recording
 * that attaches, or attaches again, mid-stream gets what it needs to read the frames. A reader
 * more than a few frames behind skips to the newest one, so a recording that falls behind never
 * holds up the host's other recordings; without a reader the frames are dropped.
 */
export function sharedDecoderPipeline(spec: SharedDecoderSpec): string {
  return (
    `${decodedCamera(spec.video, 'dec_vs', spec.fps, 'drop-only')} ! gdppay ! ` +
    `tcpserversink host=127.0.0.1 port=${spec.framesPort} sync=false async=false ` +
    `unit-format=buffers units-soft-max=${READER_SLACK_FRAMES} recover-policy=latest`
  );
}
