import { encoderThreads, gopFrames, type OutputProfile } from '../../domain/profile.ts';

/** MP3 allows only these bitrates; the profile's AAC rate maps to the nearest one at or above it. */
const MP3_BITRATES = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];

export function mp3Bitrate(kbps: number): number {
  return MP3_BITRATES.find((b) => b >= kbps) ?? 320;
}

export const names = {
  videoMixer: 'vmix',
  audioMixer: 'amix',
  videoEncoder: 'venc',
  /** Drops frames that repeat a timestamp; its drop count says how many. */
  videoRate: 'venc_rate',
  audioEncoder: 'aenc',
  videoTee: 'vtee',
  audioTee: 'atee',
  /** Before the encoder: the pictures scoring measures are taken from here. */
  rawVideoTee: 'vraw',
} as const;

/**
 * Mixed video to H.264. I420 before x264enc, or it picks High 4:4:4 that players reject; a fixed
 * GOP without scene-cut keyframes lets every snippet end exactly on its boundary;
 * zerolatency drops the look-ahead that would otherwise hold frames back for seconds.
 */
export function videoEncoder(p: OutputProfile, o: { rawTee?: boolean } = {}): string {
  const v = p.video;
  return (
    `video/x-raw,format=I420,width=${v.width},height=${v.height},framerate=${v.fps}/1,pixel-aspect-ratio=1/1 ! ` +
    // A live compositor that mixed a frame before its base time (see Recording.dateMixersFromNow)
    // emitted a second frame with the same timestamp, which mp4mux refuses with a stream error;
    // dropping any repeat keeps the recording alive, and the drop is reported.
    `videorate name=${names.videoRate} drop-only=true ! queue name=venc_q max-size-time=1000000000 ! ` +
    // On the encoder's thread, the pictures branch takes two frames a second and shrinks them.
    // The rate is named again after the tee, or the pictures branch's thinning would be
    // negotiated for the encoder too.
    (o.rawTee ? `tee name=${names.rawVideoTee} ! video/x-raw,framerate=${v.fps}/1 ! ` : '') +
    `x264enc name=${names.videoEncoder} bitrate=${v.bitrateKbps} vbv-buf-capacity=1000 speed-preset=${v.preset} tune=zerolatency ` +
    `key-int-max=${gopFrames(v)} threads=${encoderThreads(v)} option-string=scenecut=0 ! video/x-h264,profile=main ! h264parse config-interval=-1 ! ` +
    `tee name=${names.videoTee}`
  );
}

/**
 * audiorate hands the encoders a gap-free stream: under load a live mixer can jump at start-up,
 * and an audio encoder that sees a jump while it still holds less than a frame of samples
 * stops the pipeline ("buffer going too far back in time").
 *
 * voaacenc rather than avenc_aac: measured here it costs about a fifth of the CPU and 35 MiB less
 * memory (libavcodec stays unloaded). It crashes when a channel gets too few bits, which the
 * profile rules out (MIN_AAC_KBPS_PER_CHANNEL). perfect-timestamp makes its output start at the
 * input's first timestamp, so the encoder's priming does not shift audio against video.
 */
export function aacEncoder(p: OutputProfile): string {
  const a = p.audio;
  return (
    `audio/x-raw,rate=${a.sampleRate},channels=${a.channels} ! audioconvert ! audiorate ! queue name=aenc_q max-size-time=1000000000 ! ` +
    `voaacenc name=${names.audioEncoder} bitrate=${a.bitrateKbps * 1000} perfect-timestamp=true ! aacparse ! tee name=${names.audioTee}`
  );
}

export function mp3Encoder(p: OutputProfile): string {
  const a = p.audio;
  return (
    `audio/x-raw,rate=${a.sampleRate},channels=${a.channels} ! audioconvert ! audiorate ! queue name=aenc_q max-size-time=1000000000 ! ` +
    `lamemp3enc name=${names.audioEncoder} perfect-timestamp=true target=bitrate cbr=true bitrate=${mp3Bitrate(a.bitrateKbps)} ! audio/mpeg,rate=${a.sampleRate} ! mpegaudioparse ! ` +
    `tee name=${names.audioTee}`
  );
}
