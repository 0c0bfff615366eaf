import { join } from 'node:path';
import { run } from './run.ts';

const VIDEO = 'video/x-raw,width=320,height=180,framerate=15/1';
const AUDIO = 'audio/x-raw,rate=48000,channels=1';

/**
 * A 15-s snippet: 5 s each of good, impaired and good again, made as fast as the machine goes.
 * video: 'black' or 'none'; audio: 'silence', 'noise' or 'none'. `videoFrames` sets the three
 * parts of the picture otherwise (15 frames a second).
 */
export async function impairedSnippet(
  dir: string,
  video: string,
  audio: string,
  container: 'mp4' | 'mp3',
  /** Frames from one keyframe to the next. */
  gopFrames = 15,
  videoFrames: [number, number, number] = [75, 75, 75],
): Promise<string> {
  const gop = gopFrames === 15 ? '' : `-gop${gopFrames}`;
  const parts = videoFrames.join('-') === '75-75-75' ? '' : `-${videoFrames.join('-')}`;
  const file = join(dir, `impaired-${video}-${audio}${gop}${parts}.${container}`);
  const v = (pattern: string, frames: number) =>
    `videotestsrc num-buffers=${frames} pattern=${pattern} horizontal-speed=4 ! ${VIDEO} ! vc.`;
  const a = (wave: string, volume: number) =>
    `audiotestsrc num-buffers=10 samplesperbuffer=24000 wave=${wave} freq=440 volume=${volume} ! ${AUDIO} ! ac.`;
  const audioOf = (kind: string) =>
    kind === 'silence'
      ? a('silence', 0)
      : kind === 'noise'
        ? a('white-noise', 0.9)
        : a('sine', 0.3);
  const pipeline =
    container === 'mp4'
      ? `concat name=vc ! videoconvert ! x264enc speed-preset=ultrafast key-int-max=${gopFrames} ! h264parse ! mp4mux name=m ! filesink location=${file} ` +
        `${v('smpte', videoFrames[0])} ${v(video === 'black' ? 'black' : 'smpte', videoFrames[1])} ` +
        `${v('smpte', videoFrames[2])} ` +
        `concat name=ac ! audioconvert ! voaacenc bitrate=64000 ! aacparse ! m. `
      : `concat name=ac ! audioconvert ! lamemp3enc ! mpegaudioparse ! filesink location=${file} `;
  await run('sh', [
    '-c',
    `gst-launch-1.0 -q ${pipeline} ${a('sine', 0.3)} ${audioOf(audio)} ${a('sine', 0.3)}`,
  ]);
  return file;
}
