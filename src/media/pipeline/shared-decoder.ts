import { CAMERA, decodedCamera } from './inputs.ts';
import { quote } from './quote.ts';
import type { RtpVideo } from './spec.ts';

export interface SharedDecoderSpec {
  /** The host's video RTP as the ingest forwards it, with the feedback port for its RTCP. */
  video: RtpVideo;
  /** Unix socket the readers connect to. */
  socketPath: string;
  fps: number;
}

/** Raw frames the shared memory holds: enough for every reader's few queued ones and more. */
export const SHARED_FRAMES = 48;

/** Bytes of one camera-sized I420 frame. */
export function cameraFrameBytes(): number {
  return (CAMERA.width * CAMERA.height * 3) / 2;
}

/**
 * A host's video decoded once: the same RTP path, decoder, pacing and scaling a recording uses
 * for itself, with the frames put in shared memory for every recording of the host on the node.
 * Without a reader the frames are dropped (wait-for-connection=false), so a decoder started
 * before its recordings never holds up the RTP.
 */
export function sharedDecoderPipeline(spec: SharedDecoderSpec): string {
  return (
    `${decodedCamera(spec.video, 'dec_vs', spec.fps, 'drop-only')} ! ` +
    `shmsink socket-path=${quote(spec.socketPath)} shm-size=${SHARED_FRAMES * cameraFrameBytes()} ` +
    'wait-for-connection=false sync=false async=false'
  );
}
