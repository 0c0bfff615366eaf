import { decodedCamera, framesServer } from './inputs.ts';
import type { RtpVideo } from './spec.ts';

export interface SharedDecoderSpec {
  /** The host's video RTP as the ingest forwards it, with the feedback port for its RTCP. */
  video: RtpVideo;
  /** Loopback TCP port the readers connect to. */
  framesPort: number;
  fps: number;
}

/**
 * A host's video decoded once: the same RTP path, decoder, pacing and scaling a recording uses
 * for itself, with the frames served on a loopback port to every recording of the host on the
 * node.
 */
export function sharedDecoderPipeline(spec: SharedDecoderSpec): string {
  return `${decodedCamera(spec.video, 'dec_vs', spec.fps, 'drop-only')} ! ${framesServer(spec.framesPort)}`;
}
