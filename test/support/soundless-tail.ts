import { join } from 'node:path';
import { runOk } from './run.ts';

/**
 * What a recording that ends a few frames after a cut leaves: the sound, further behind in a live
 * pipeline, had not reached the cut, so the last snippet's sound track has its format and not one
 * sample. splitmuxsink makes it here from 2.27 s of picture and 1.9 s of sound cut every 2 s,
 * live like a recording's (from files, splitmuxsink sometimes never finished). Returns the whole
 * first part and that tail.
 */
export async function soundlessTail(
  dir: string,
  soundBuffers = 89,
  frames = 34,
): Promise<{ whole: string; tail: string }> {
  const q = ['queue', 'max-size-buffers=0', 'max-size-time=0', 'max-size-bytes=0'];
  await runOk(
    'gst-launch-1.0',
    [
      '-q',
      ...['videotestsrc', 'is-live=true', `num-buffers=${frames}`, '!'],
      ...['video/x-raw,framerate=15/1,width=320,height=180', '!'],
      ...['x264enc', 'key-int-max=5', 'tune=zerolatency', '!', 'h264parse', '!', ...q, '!'],
      ...['splitmuxsink', 'name=s', `location=${join(dir, 'part%06d.mp4')}`],
      ...['max-size-time=2000000000', 'muxer-factory=mp4mux'],
      ...[
        'audiotestsrc',
        'is-live=true',
        `num-buffers=${soundBuffers}`,
        'samplesperbuffer=1024',
        '!',
      ],
      ...['audio/x-raw,rate=48000,channels=2', '!', 'voaacenc', '!', 'aacparse', '!', ...q],
      ...['!', 's.audio_0'],
    ],
    { timeoutMs: 30_000 },
  );
  return { whole: join(dir, 'part000000.mp4'), tail: join(dir, 'part000001.mp4') };
}
