import { resolve } from 'node:path';
import {
  defaultProfile,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
  parseCanvas,
} from '../domain/profile.ts';
import {
  MAX_COMPOSITE_INPUTS,
  RECORDING_KINDS,
  type RecordingSpec,
} from '../media/pipeline/spec.ts';
import { runSyntheticRecording, syntheticHost } from '../media/synthetic-recording.ts';
import { parseTimeline } from '../media/timeline.ts';
import {
  choiceOption,
  intOption,
  numberOption,
  parseOptions,
  UsageError,
  type Command,
} from './command.ts';

const PATTERNS = ['ball', 'sync', 'noise'] as const;

export const recordCommand: Command = {
  name: 'record',
  summary: 'record synthetic hosts into 15-second snippets (no WebRTC needed)',
  help: `Usage: tapedeck record --out DIR [options]

Records synthetic hosts (a moving pattern with the host's name and a tone per host) through the
same media engine that records real hosts, and cuts the result into snippets in DIR.
Ctrl-C or SIGTERM ends the recording early with a whole, playable last snippet.

Options:
  --kind KIND            composite (all hosts on one canvas, H.264+AAC in MP4), host (one host,
                         MP4) or audio (one host, MP3 only)                  [default: composite]
  --inputs N             hosts: 1 to ${MAX_COMPOSITE_INPUTS} for composite, 1 otherwise   [default: 4 / 1]
  --duration SECONDS     how long to record                                   [default: 30]
  --out DIR              folder for the snippets (created if missing)          [required]
  --canvas WxH           output size; even numbers           [default: 360x640 composite, 640x360 host]
  --fps N                frames per second                                    [default: 15]
  --video-kbps N         H.264 bitrate                                        [default: 5000]
  --audio-kbps N         AAC bitrate (MP3 uses the next standard rate up)     [default: 44]
  --snippet-seconds N    snippet length                                       [default: 15]
  --rtmp URL             also stream live to rtmp://HOST[:PORT]/APP/STREAM; a failing server is
                         retried and never stops the recording
  --hls DIR              also write a live HLS playlist (live.m3u8) and 2-second segments to DIR
  --pattern P            ball (moving), noise (busy, hard to encode) or sync (a flash and a tick
                         every second, to measure audio/video sync)           [default: ball]
  --timeline STEPS       changes while recording, comma-separated SECONDS:ACTION[:HOST] with
                         ACTION add, remove, camera-off or camera-on, e.g. "10:add,20:camera-off:2"
  --json                 print the summary as one JSON line instead of a table
  -h, --help             this help

Examples:
  tapedeck record --out /tmp/rec --duration 46
  tapedeck record --kind host --out /tmp/host --duration 20 --timeline 5:camera-off:1,10:camera-on:1
  tapedeck record --out /tmp/rec --rtmp rtmp://127.0.0.1:1935/live/show --hls /tmp/rec/hls
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      kind: { type: 'string' },
      inputs: { type: 'string' },
      duration: { type: 'string' },
      out: { type: 'string' },
      canvas: { type: 'string' },
      fps: { type: 'string' },
      'video-kbps': { type: 'string' },
      'audio-kbps': { type: 'string' },
      'snippet-seconds': { type: 'string' },
      rtmp: { type: 'string' },
      hls: { type: 'string' },
      pattern: { type: 'string' },
      timeline: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const kind = choiceOption('kind', values.kind, RECORDING_KINDS, 'composite');
    const maxInputs = kind === 'composite' ? MAX_COMPOSITE_INPUTS : 1;
    const inputs = intOption('inputs', values.inputs, kind === 'composite' ? 4 : 1, 1, maxInputs);
    const durationSec = numberOption('duration', values.duration, 30, 1, 86_400);
    if (!values.out) throw new UsageError('--out DIR is required: the folder the snippets go to');
    const canvas = values.canvas
      ? parseCanvas(values.canvas)
      : kind === 'composite'
        ? DEFAULT_COMPOSITE_CANVAS
        : DEFAULT_HOST_CANVAS;
    const profile = defaultProfile(canvas);
    profile.video.fps = intOption('fps', values.fps, profile.video.fps, 1, 60);
    profile.video.bitrateKbps = intOption(
      'video-kbps',
      values['video-kbps'],
      profile.video.bitrateKbps,
      100,
      50_000,
    );
    profile.audio.bitrateKbps = intOption(
      'audio-kbps',
      values['audio-kbps'],
      profile.audio.bitrateKbps,
      8,
      320,
    );
    profile.snippetSeconds = intOption(
      'snippet-seconds',
      values['snippet-seconds'],
      profile.snippetSeconds,
      2,
      600,
    );
    const pattern = choiceOption('pattern', values.pattern, PATTERNS, 'ball');
    const timeline = parseTimeline(values.timeline ?? '');
    if (kind !== 'composite' && timeline.some((s) => s.action === 'add' || s.action === 'remove'))
      throw new UsageError('only a composite recording takes add and remove steps');

    const spec: RecordingSpec = {
      kind,
      recordingId: kind,
      outDir: resolve(values.out),
      profile,
      inputs: Array.from({ length: inputs }, (_, i) => syntheticHost(i + 1, pattern)),
      ...(values.rtmp ? { rtmpUrl: values.rtmp } : {}),
      ...(values.hls ? { hlsDir: resolve(values.hls) } : {}),
    };
    const abort = new AbortController();
    const onSignal = () => {
      process.stderr.write('\nstopping: finishing the last snippet…\n');
      abort.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const tty = process.stderr.isTTY;
    const summary = await runSyntheticRecording({
      spec,
      durationSec,
      timeline,
      pattern,
      signal: abort.signal,
      onEvent: (event) => {
        if (event.event === 'output-failed')
          process.stderr.write(
            `\nwarning: ${event.data.output.toUpperCase()} output failed: ${event.data.message}` +
              (event.data.retryInMs > 0
                ? ` (retrying in ${event.data.retryInMs / 1000} s; the recording goes on)\n`
                : '\n'),
          );
        else if (event.event === 'output-restored')
          process.stderr.write(`\n${event.data.output.toUpperCase()} output reconnecting\n`);
        else if (event.event === 'warning')
          process.stderr.write(`\nwarning: ${event.data.source}: ${event.data.message}\n`);
        else if (event.event === 'error')
          process.stderr.write(`\nerror: ${event.data.source}: ${event.data.message}\n`);
      },
      onProgress: ({ elapsedSec, snippets }) => {
        const line = `recording ${kind} · ${elapsedSec.toFixed(0)}/${durationSec} s · ${snippets} snippet${snippets === 1 ? '' : 's'} closed`;
        if (tty) process.stderr.write(`\r${line}  `);
        else if (Math.round(elapsedSec) % 10 === 0) process.stderr.write(`${line}\n`);
      },
    });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (values.json) {
      process.stdout.write(JSON.stringify(summary) + '\n');
      return 0;
    }
    if (tty) process.stderr.write('\n');
    const rows = summary.snippets.map(
      (s) =>
        `  ${String(s.seq).padStart(6, '0')}  ${s.durationSec.toFixed(3).padStart(8)} s  ${(s.bytes / 1e6).toFixed(2).padStart(7)} MB  ${s.location}`,
    );
    process.stdout.write(
      `${summary.snippets.length} snippets in ${summary.outDir}${summary.stoppedEarly ? ' (stopped early)' : ''}:\n` +
        `     seq  duration        size  file\n${rows.join('\n')}\n` +
        (spec.hlsDir ? `HLS playlist: ${spec.hlsDir}/live.m3u8\n` : '') +
        (summary.outputFailures.length
          ? `live output failures: ${summary.outputFailures.length} (see warnings above)\n`
          : ''),
    );
    return 0;
  },
};
