import { join, resolve } from 'node:path';
import {
  defaultProfile,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
  parseCanvas,
  X264_PRESETS,
} from '../domain/profile.ts';
import {
  MAX_COMPOSITE_INPUTS,
  RECORDING_KINDS,
  type RecordingSpec,
} from '../media/pipeline/spec.ts';
import { ensureWritableDir, syntheticHost } from '../media/synthetic-recording.ts';
import { validateSpec } from '../media/pipeline/spec.ts';
import { assertId } from '../domain/ids.ts';
import { parseDeliveryConfig, startDelivery } from '../recorder/delivery-runtime.ts';
import { recordAndDeliver } from '../recorder/record-and-deliver.ts';
import { formatSummary, RecordReport } from './record-report.ts';
import { parseTimeline } from '../media/timeline.ts';
import {
  choiceOption,
  intOption,
  numberOption,
  parseOptions,
  UsageError,
  type Command,
} from './command.ts';

const PATTERNS = ['bars', 'sync', 'noise'] as const;

export const recordCommand: Command = {
  name: 'record',
  help: `Usage: tapedeck record --out DIR [options]

Records synthetic hosts (a moving pattern with the host's name and a tone per host) through the
same media engine that records real hosts. Each 15-second snippet is written to a spool folder,
checked, uploaded to the store under its key, and announced on the bus (event
tapedeck.snippet.ready) moments after it was captured:

  {livestream}/{track}/{mp4|mp3}/{start UTC}_{seq}.{ext}   e.g. local/composite/mp4/20261130T084512.000Z_000000.mp4

Ctrl-C or SIGTERM ends the recording early with a whole, playable last snippet. If the store or
the bus is down, snippets and events wait on disk in DIR and go out when it is back; a later run
with the same --out delivers whatever an earlier, killed run left behind.

Options:
  --kind KIND            composite (all hosts on one canvas, H.264+AAC in MP4), host (one host,
                         MP4) or audio (one host, MP3 only)                  [default: composite]
  --inputs N             hosts: 1 to ${MAX_COMPOSITE_INPUTS} for composite, 1 otherwise   [default: 4 / 1]
  --duration SECONDS     how long to record                                   [default: 30]
  --out DIR              local data: spool/ (snippets being written), outbox/ (events not yet
                         published), bus/ (embedded bus), store/ (default store)   [required]
  --livestream ID        livestream id, first part of every key: A-Z a-z 0-9 _ - [default: local]
  --store URL            where snippets go: file://DIR or s3://BUCKET/PREFIX (endpoint and
                         credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
                         AWS_SECRET_ACCESS_KEY, AWS_REGION)          [default: file://OUT/store]
  --bus URL              where events go: embedded (in OUT/bus), nats://HOST:PORT (JetStream) or
                         pubsub://PROJECT/TOPIC (PUBSUB_EMULATOR_HOST for the emulator)
                                                                              [default: embedded]
  --spool-limit-mb N     while the store is down, snippets wait in the spool; at this size the
                         recording ends (exit code 1), keeping everything captured [default: 4096]
  --deliver-timeout S    after recording, how long to wait for uploads and events before leaving
                         the rest on disk for the next run                    [default: 120]
  --canvas WxH           output size; even numbers           [default: 360x640 composite, 640x360 host]
  --fps N                frames per second                                    [default: 15]
  --video-kbps N         H.264 bitrate                                        [default: 5000]
  --x264-preset P        encoder speed against quality: ultrafast, superfast, veryfast, faster,
                         fast, medium or slow (ultrafast drops to Baseline profile) [default: superfast]
  --audio-kbps N         AAC bitrate, mono, 32 or more (MP3 uses the next standard rate up)
                                                                              [default: 44]
  --snippet-seconds N    snippet length                                       [default: 15]
  --rtmp URL             also stream live to rtmp://HOST[:PORT]/APP/STREAM; a failing server is
                         retried and never stops the recording
  --hls DIR              also write a live HLS playlist (live.m3u8) and 2-second segments to DIR
  --pattern P            bars (scrolling), noise (busy, hard to encode) or sync (a flash and a tick
                         every second, to measure audio/video sync)           [default: bars]
  --timeline STEPS       changes while recording, comma-separated SECONDS:ACTION[:HOST] with
                         ACTION add, remove, camera-off or camera-on, e.g. "10:add,20:camera-off:2"
  --json                 print the summary as one JSON line instead of a table
  -h, --help             this help

Examples:
  tapedeck record --out /tmp/rec --duration 46
  tapedeck record --out /tmp/rec --livestream show-1 --store s3://recordings/tapedeck --bus nats://127.0.0.1:4222
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
      'x264-preset': { type: 'string' },
      'audio-kbps': { type: 'string' },
      'snippet-seconds': { type: 'string' },
      rtmp: { type: 'string' },
      hls: { type: 'string' },
      pattern: { type: 'string' },
      timeline: { type: 'string' },
      json: { type: 'boolean' },
      livestream: { type: 'string' },
      store: { type: 'string' },
      bus: { type: 'string' },
      'deliver-timeout': { type: 'string' },
      'spool-limit-mb': { type: 'string' },
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
    if (!values.out)
      throw new UsageError(
        '--out DIR is required: the folder for the spool, the outbox and the default store',
      );
    const livestreamId = assertId('--livestream', values.livestream ?? 'local');
    const deliverTimeoutSec = numberOption(
      'deliver-timeout',
      values['deliver-timeout'],
      120,
      0,
      86_400,
    );
    const spoolLimitMb = intOption('spool-limit-mb', values['spool-limit-mb'], 4096, 1, 10_000_000);
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
    profile.video.preset = choiceOption(
      'x264-preset',
      values['x264-preset'],
      X264_PRESETS,
      profile.video.preset,
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
    const pattern = choiceOption('pattern', values.pattern, PATTERNS, 'bars');
    const timeline = parseTimeline(values.timeline ?? '');
    if (kind !== 'composite' && timeline.some((s) => s.action === 'add' || s.action === 'remove'))
      throw new UsageError('only a composite recording takes add and remove steps');

    const spec: Omit<RecordingSpec, 'outDir'> = {
      kind,
      recordingId:
        kind === 'composite' ? 'composite' : kind === 'host' ? 'host-h1' : 'host-h1-audio',
      profile,
      inputs: Array.from({ length: inputs }, (_, i) => syntheticHost(i + 1, pattern)),
      ...(values.rtmp ? { rtmpUrl: values.rtmp } : {}),
      ...(values.hls ? { hlsDir: resolve(values.hls) } : {}),
    };
    validateSpec({ ...spec, outDir: resolve(values.out) });
    const config = {
      dataDir: resolve(values.out),
      storeUrl: values.store,
      busUrl: values.bus,
      maxSpoolBytes: spoolLimitMb * 1024 * 1024,
    };
    // A data folder that cannot be written is the likelier mistake; say so before parsing URLs
    // (the embedded bus would otherwise be the first to stumble on it).
    await ensureWritableDir(config.dataDir, 'snippets');
    const parsed = await parseDeliveryConfig(config);
    if (spec.hlsDir) await ensureWritableDir(spec.hlsDir, 'the HLS playlist');
    const runtime = await startDelivery(config, parsed);
    const report = new RecordReport(kind, durationSec, process.stderr, runtime);
    const abort = new AbortController();
    const onSignal = () => {
      process.stderr.write('\nstopping: finishing the last snippet…\n');
      abort.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let summary;
    let delivery;
    let spoolFull = false;
    try {
      runtime.deliverer.on('spool-full', ({ bytes, maxBytes }) => {
        if (spoolFull) return;
        spoolFull = true;
        report.warn(
          `the spool holds ${(bytes / 1e6).toFixed(0)} MB (limit ${(maxBytes / 1e6).toFixed(0)} MB): stopping the recording so nothing captured is lost`,
        );
        abort.abort();
      });
      summary = await recordAndDeliver({
        livestreamId,
        spec,
        deliverer: runtime.deliverer,
        durationSec,
        timeline,
        pattern,
        signal: abort.signal,
        onEvent: (event) => report.workerEvent(event),
        onProgress: (p) => report.progress(p),
      });
      delivery = await report.finishDelivery(deliverTimeoutSec * 1000);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await runtime.close();
    }
    const result = {
      dataDir: config.dataDir,
      store: runtime.store.describe,
      bus: runtime.bus.describe,
      livestreamId,
      recordingId: spec.recordingId,
      snippets: report.delivered(),
      snippetsPending: delivery.snippetsPending,
      eventsPending: delivery.eventsPending,
      quarantined: report.quarantined,
      outputFailures: summary.outputFailures,
      stoppedEarly: summary.stoppedEarly,
      elapsedSec: summary.elapsedSec,
      ...(spec.hlsDir ? { hls: join(spec.hlsDir, 'live.m3u8') } : {}),
    };
    if (values.json) process.stdout.write(JSON.stringify({ ...result, spoolFull }) + '\n');
    else process.stdout.write(formatSummary(result));
    if (spoolFull) return 1;
    return 0;
  },
};
