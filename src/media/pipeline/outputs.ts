import { CAPTURE_PICTURE_SEC, PICTURE_SIZE } from '../../domain/picture-stats.ts';
import type { OutputProfile } from '../../domain/profile.ts';
import { names } from './encoders.ts';
import { quote, seconds, structure } from './quote.ts';

export const outputNames = {
  recorder: 'rec',
  rtmpMux: 'rtmp_mux',
  rtmpSink: 'rtmp_sink',
  rtmpVideoValve: 'rtmp_vv',
  rtmpAudioValve: 'rtmp_av',
  rtmpVideoQueue: 'rtmp_vq',
  rtmpAudioQueue: 'rtmp_aq',
  hlsSink: 'hls',
  pictures: 'pictures',
  pictureFiles: 'picture_files',
} as const;

/** Elements whose failure must never stop the recording: the worker tears down just that branch. */
export const RTMP_ELEMENT_PREFIX = 'rtmp_';
export const HLS_ELEMENT_PREFIX = 'hls';

export interface RecorderOptions {
  /** splitmuxsink location pattern, with one %06d for the sequence number. */
  location: string;
  startIndex: number;
}

/**
 * Snippets of exactly the profile's length. mp4mux reserves room for its index and rewrites it
 * every second, so a killed process leaves a file that plays up to its last second instead of one
 * without an index. The muxer settings only apply with async-finalize, which also finishes each
 * snippet on its own thread while the next one records.
 */
export function mp4Recorder(p: OutputProfile, o: RecorderOptions): string[] {
  const snippet = seconds(p.snippetSeconds);
  const muxer = structure('properties', {
    'reserved-max-duration': snippet + seconds(5),
    'reserved-moov-update-period': seconds(1),
  });
  return [
    `splitmuxsink name=${outputNames.recorder} location=${quote(o.location)} start-index=${o.startIndex} ` +
      `max-size-time=${snippet} send-keyframe-requests=true async-finalize=true ` +
      `muxer-factory=mp4mux muxer-properties=${muxer}`,
    `${names.videoTee}. ! queue name=rec_vq max-size-time=3000000000 max-size-bytes=0 max-size-buffers=0 ! ${outputNames.recorder}.video`,
    `${names.audioTee}. ! queue name=rec_aq max-size-time=3000000000 max-size-bytes=0 max-size-buffers=0 ! ${outputNames.recorder}.audio_0`,
  ];
}

/** How many picture files stay on disk: a minute's, far longer than any snippet waits for them. */
export const PICTURE_FILES_KEPT = 120;

/**
 * The pictures scoring measures, as recorded: every CAPTURE_PICTURE_SEC a frame shrunk to GRAY8
 * PICTURE_SIZE, the chain scoring's own decode ends in. Each is written to a file of its own
 * (numbered from 0, the oldest removed) and its sample, holding its timestamp, waits in the
 * appsink for the worker: the n-th sample is the n-th file, as both sinks get every picture from
 * one tee on one thread.
 * - node-gtk hands a buffer's bytes to JavaScript as an array of numbers, 0.76 ms for one
 *   picture here, while a file is read in microseconds.
 * - One file a picture, because multifilesink writes through a stdio buffer that it flushes
 *   only when it closes a file: in files of many pictures the last ones were not there yet when
 *   their snippet closed. Creating and removing a file costs about 0.17 ms of CPU.
 * - An appsink waits at EOS until its samples are taken, holding the encoder's thread; this one
 *   does not (its last samples can still be taken after).
 */
export function picturesOutput(dir: string): string[] {
  const { width, height } = PICTURE_SIZE;
  const every = 1 / CAPTURE_PICTURE_SEC;
  return [
    `${names.rawVideoTee}. ! videorate drop-only=true max-rate=${every} ! ` +
      `videoscale ! video/x-raw,width=${width},height=${height} ! videoconvert ! video/x-raw,format=GRAY8 ! ` +
      `tee name=picture_tee ! appsink name=${outputNames.pictures} sync=false async=false ` +
      `emit-signals=false enable-last-sample=false max-buffers=0 drop=false wait-on-eos=false`,
    `picture_tee. ! multifilesink name=${outputNames.pictureFiles} location=${quote(`${dir}/%06d.gray`)} ` +
      `max-files=${PICTURE_FILES_KEPT} sync=false async=false`,
  ];
}

/**
 * MP3 frames are self-contained; unbuffered writes leave whole frames on disk if the process is
 * killed. splitmuxsink cuts only on its reference (video) pad, and every MP3 frame starts a
 * possible cut, so the audio goes in there. id3v2mux has no request pads, which async-finalize
 * needs, so this muxer and sink are set directly.
 */
export function mp3Recorder(p: OutputProfile, o: RecorderOptions): string[] {
  return [
    `splitmuxsink name=${outputNames.recorder} location=${quote(o.location)} start-index=${o.startIndex} ` +
      `max-size-time=${seconds(p.snippetSeconds)} muxer-factory=id3v2mux sink=${quote('filesink buffer-mode=unbuffered')}`,
    `${names.audioTee}. ! queue name=rec_aq max-size-time=3000000000 max-size-bytes=0 max-size-buffers=0 ! ${outputNames.recorder}.video`,
  ];
}

/**
 * Live RTMP out of the same encoders, in two parts. The valves stay in the pipeline for good; the
 * branch behind them (queues, muxer, sink) is replaced whole after a failure, so no element that
 * once saw the dead server (a queue remembers a flushing result) stays in the path. Closing the
 * valves first means nothing is pushing into the branch while it is torn down, so a failure can
 * never travel back through the tee into the encoders.
 */
export function rtmpValves(open: boolean): string[] {
  return [
    `${names.videoTee}. ! valve name=${outputNames.rtmpVideoValve} drop=${!open}`,
    `${names.audioTee}. ! valve name=${outputNames.rtmpAudioValve} drop=${!open}`,
  ];
}

/**
 * Behind the valves: leaky queues keep a slow server from stalling the recording, and errorignore
 * turns the branch's flow errors into OK. Its two inputs are the queues named below.
 */
export function rtmpBranch(url: string): string {
  const leaky = 'leaky=downstream max-size-time=2000000000 max-size-bytes=0 max-size-buffers=0';
  const ignore =
    'errorignore ignore-error=true ignore-notlinked=true ignore-notnegotiated=true convert-to=ok';
  return [
    `flvmux name=${outputNames.rtmpMux} streamable=true latency=100000000 ! rtmp2sink name=${outputNames.rtmpSink} ` +
      `location=${quote(url)} async-connect=true sync=false async=false`,
    `queue name=${outputNames.rtmpVideoQueue} ${leaky} ! h264parse name=rtmp_vp ! ${ignore} name=rtmp_vi ! ${outputNames.rtmpMux}.video`,
    `queue name=${outputNames.rtmpAudioQueue} ${leaky} ! ${ignore} name=rtmp_ai ! ${outputNames.rtmpMux}.audio`,
  ].join('  ');
}

/** Everything for gst-launch-1.0, where nothing is attached later. */
export function rtmpOutput(url: string): string[] {
  return [
    rtmpBranch(url),
    `${outputNames.rtmpVideoValve}. ! ${outputNames.rtmpVideoQueue}.`,
    `${outputNames.rtmpAudioValve}. ! ${outputNames.rtmpAudioQueue}.`,
    ...rtmpValves(true),
  ];
}

/** MPEG-TS wants H.264 as a byte stream where MP4 and FLV want AVC, so this branch converts its own copy. */
export function hlsOutput(dir: string, segmentSeconds = 2): string[] {
  const leaky = 'leaky=downstream max-size-time=2000000000 max-size-bytes=0 max-size-buffers=0';
  return [
    `hlssink2 name=${outputNames.hlsSink} location=${quote(`${dir}/segment%05d.ts`)} ` +
      `playlist-location=${quote(`${dir}/live.m3u8`)} target-duration=${segmentSeconds} playlist-length=6 max-files=12 send-keyframe-requests=false`,
    `${names.videoTee}. ! queue name=hls_vq ${leaky} ! h264parse name=hls_vp ! ${outputNames.hlsSink}.video`,
    `${names.audioTee}. ! queue name=hls_aq ${leaky} ! ${outputNames.hlsSink}.audio`,
  ];
}
