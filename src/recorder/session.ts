import { recordingTrack } from '../domain/snippet-key.ts';
import { mp3Bitrate } from '../media/pipeline/encoders.ts';
import { snippetExtension, type RecordingSpec } from '../media/pipeline/spec.ts';
import type { RecordingSession } from '../delivery/spool-journal.ts';

/** What delivery needs to know about a recording to name and announce its snippets. */
export function sessionFor(
  livestreamId: string,
  spec: Omit<RecordingSpec, 'outDir'>,
): RecordingSession {
  const variant = snippetExtension(spec.kind);
  const p = spec.profile;
  return {
    livestreamId,
    recordingId: spec.recordingId,
    track: recordingTrack(spec.kind, spec.inputs[0]?.id),
    variant,
    media: {
      video:
        variant === 'mp4'
          ? {
              codec: 'h264',
              width: p.video.width,
              height: p.video.height,
              fps: p.video.fps,
              bitrateKbps: p.video.bitrateKbps,
            }
          : null,
      audio: {
        codec: variant === 'mp4' ? 'aac' : 'mp3',
        sampleRate: p.audio.sampleRate,
        channels: p.audio.channels,
        bitrateKbps: variant === 'mp4' ? p.audio.bitrateKbps : mp3Bitrate(p.audio.bitrateKbps),
      },
    },
  };
}
