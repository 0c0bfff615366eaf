import {
  defaultProfile,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
} from '../../domain/profile.ts';
import { buildPipeline } from './build.ts';
import type { InputSpec, RecordingKind, RtpSource } from './spec.ts';

/**
 * What a spare media worker does while it waits for a recording, so that the recording's start
 * does not pay for it: the pipelines of every kind of recording, parsed and never started (each
 * element's plugin gets loaded), and one short pipeline run to its end, which draws a text tile
 * (the font cache loads on first use). Measured on a host recording, this took its pipeline from
 * about 80 ms to about 15 ms between parse and PLAYING's request.
 */
export interface WarmUp {
  parseOnly: string[];
  run: string;
}

const NOWHERE = '/nonexistent/tapedeck-warm-up';

function rtpInput(codec: 'H264' | 'VP8'): InputSpec {
  const source: RtpSource = {
    type: 'rtp',
    video: { port: 9, codec, payloadType: 96, feedbackPort: 9 },
    audio: { port: 9, codec: 'OPUS', payloadType: 111 },
  };
  return { id: `warm${codec.toLowerCase()}`, displayName: 'warm-up', source, cameraOn: true };
}

export function warmUpPipelines(): WarmUp {
  const recording = (kind: RecordingKind, codec: 'H264' | 'VP8') =>
    buildPipeline({
      kind,
      recordingId: 'warm-up',
      outDir: NOWHERE,
      profile: defaultProfile(
        kind === 'composite' ? DEFAULT_COMPOSITE_CANVAS : DEFAULT_HOST_CANVAS,
      ),
      inputs: [rtpInput(codec)],
      ...(kind === 'composite' ? { hlsDir: NOWHERE, rtmpUrl: 'rtmp://127.0.0.1:9/warm/up' } : {}),
    }).launch;
  return {
    parseOnly: [
      recording('composite', 'H264'),
      recording('host', 'VP8'),
      recording('audio', 'H264'),
    ],
    run:
      'videotestsrc num-buffers=1 ! video/x-raw,width=64,height=36 ! ' +
      'textoverlay text=warm-up font-desc="Sans 16" ! fakesink',
  };
}
