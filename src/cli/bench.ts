import {
  BENCH_KINDS,
  BENCH_PATTERNS,
  formatKindReport,
  parseKinds,
  runMediaBench,
  toBenchJson,
  type BenchKind,
} from '../bench/media-bench.ts';
import {
  formatAvailability,
  runAvailability,
  type AvailabilityRun,
} from '../bench/delivery-bench.ts';
import { formatIngestReport, parsePublishers, runIngestBench } from '../bench/ingest-bench.ts';
import {
  DEFAULT_DURATIONS,
  formatScoringReport,
  runScoringBench,
  toScoringJson,
} from '../bench/scoring-bench.ts';
import { runEscalation } from './bench-escalation.ts';
import { runSoakCommand } from './bench-soak.ts';
import { runSystem } from './bench-system.ts';
import {
  choiceOption,
  intOption,
  numberOption,
  parseOptions,
  UsageError,
  type Command,
} from './command.ts';

const SUBCOMMANDS = [
  'media',
  'delivery',
  'ingest',
  'scoring',
  'escalation',
  'system',
  'soak',
] as const;

const mediaHelp = `Usage: tapedeck bench media [options]

Measures what a recording costs in CPU and memory. For each kind, three contenders record the
same synthetic hosts with the same output settings (H.264 15 fps 5000 kbit/s with a 5-frame GOP
and AAC 44 kbit/s in MP4, or MP3 for audio; 15-second snippets into a temporary folder), one after
another, each for --duration seconds:

  tapedeck    tapedeck's media worker (Node + node-gtk + GStreamer) started with the recording's
              spec and stopped like a real recording (EOS). Only the worker's process tree is
              measured: it does the media work; this CLI only waits.
  gst-launch  the very same pipeline under gst-launch-1.0 -e, stopped with SIGINT (EOS): the cost
              of the GStreamer pipeline alone, without Node.
  ffmpeg      an equivalent ffmpeg recorder (lavfi test sources, libx264 at the same preset, segment muxer),
              stopped with SIGINT. ffmpeg picks its own encoder threads; tapedeck encodes on one
              thread up to 720p30.

Kinds: composite (4 hosts on a 360x640 canvas), host (1 host, 640x360), audio (1 host, MP3).

Reading the output, one block per kind:
  CPU % of core  user+system CPU time of the contender's process tree (children and start-up
                 included) over the wall time from start to stop; 100 means one core fully busy.
  peak RSS MiB   the highest summed resident memory of the tree, sampled every 250 ms.
  ratios         "A vs B" is A's figure divided by B's. tapedeck vs gst-launch is what running
                 the pipeline inside tapedeck's worker adds; tapedeck vs ffmpeg compares with a
                 plain ffmpeg recorder. Below 1.00x means tapedeck uses less.
  snippets       files each contender wrote and their lengths by ffprobe: whole snippets last
                 15 s, the last one is shorter. A contender without any snippet (or one that ended
                 before it was stopped) is FAILED, and the command exits with 1.
  targets        reported, not enforced: composite <= 20 % of a core and <= 150 MiB, host <= 9 %
                 of a core, tapedeck/gst-launch CPU <= 1.15x, tapedeck CPU below ffmpeg's.

Caveats: ffmpeg's inputs are similar, not identical: test pictures (testsrc2) without the name
overlay or the hidden camera-off placeholders, and --pattern does not change them. Figures depend
on the machine and what else runs on it; compare contenders within one run. A run takes about
3 x kinds x rounds x duration seconds, plus start and stop.

One run of each moves between runs by about as much as light pipelines differ (the audio one
costs about 1 % of a core): --rounds N runs every contender N times, alternated, each round
starting one contender later, and judges the medians; the CPU of every round is listed under
them, so the spread shows.

Options:
  --duration SECONDS  how long each contender records                     [default: 40]
  --kinds LIST        comma-separated subset of ${BENCH_KINDS.join(',')}   [default: all]
  --pattern P         bars (scrolling colour bars) or noise (busy picture, hard to encode)
                      [default: bars]
  --rounds N          run each contender N times, alternated; report medians    [default: 1]
  --keep              keep the snippets (the folder is printed) instead of removing them
  --json              also print every row and target as one JSON line, the last line of stdout:
                      {"durationSec","pattern","rounds","ok","rows":[{"kind","contender","round","ok","wallSec",
                      "cpuSec","cpuShareOfCore","peakRssMiB","snippets","snippetSeconds",...}],
                      "targets":[{"kind","metric","label","limit","value","status"}]}
  -h, --help          this help

Progress goes to stderr. Ctrl-C stops the running contender with EOS, skips the rest and prints
what was measured.

Examples:
  tapedeck bench media
  tapedeck bench media --kinds composite --pattern noise --duration 60
  tapedeck bench media --kinds audio --duration 6 --json
  tapedeck bench media --kinds audio,host --duration 60 --rounds 3
`;

export const benchCommand: Command = {
  name: 'bench',
  help: `Usage: tapedeck bench SUBCOMMAND [options]

Subcommands:
  media     CPU and peak memory of tapedeck's media worker against gst-launch-1.0 and ffmpeg
            recording the same synthetic hosts
  delivery  snippet availability: from a snippet's end to its object in the store and its event
            on the bus, p50 and p99, for the filesystem store and S3
  ingest    CPU of the WebRTC (WHIP) ingest per publisher and join time, with 1, 4, 8… publishers
  scoring   the quality scorer against snippets with known impairments and clean ones: detection
            rate, false positives and the CPU that scoring a snippet takes
  escalation  from a low score to the review in the moderation service's queue, p50 and p99
  system    how many 4-host livestreams one node records at real time, per-process CPU and memory,
            against a plain ffmpeg-based recorder
  soak      livestreams for M minutes while faults are injected, then every track checked: lost,
            unplayable, duplicate snippets, sha256 against events, memory and descriptor growth

Run "tapedeck bench media --help" for what is measured and how to read it.
`,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === '--help' || sub === '-h') {
      process.stdout.write(this.help);
      return 0;
    }
    if (sub === undefined) {
      process.stderr.write(this.help);
      return 2;
    }
    if (!SUBCOMMANDS.includes(sub as (typeof SUBCOMMANDS)[number]))
      throw new UsageError(`unknown bench "${sub}" (use ${SUBCOMMANDS.join(', ')})`);
    if (sub === 'ingest') return runIngest(rest);
    if (sub === 'scoring') return runScoring(rest);
    if (sub === 'escalation') return runEscalation(rest);
    if (sub === 'soak') return runSoakCommand(rest);
    if (sub === 'system') return runSystem(rest);
    return sub === 'delivery' ? runDelivery(rest) : runMedia(rest);
  },
};

const deliveryHelp = `Usage: tapedeck bench delivery [options]

Measures how soon a snippet is available: records --tracks host recordings at once through the
whole path (media worker → spool → fragment-closed and inotify → check → store → outbox → bus)
and, for every whole snippet, times:

  stored     from the snippet's end by the pipeline clock to the store confirming its object
  announced  from the snippet's end to a subscriber on the bus receiving its event

and prints p50, p99 and the maximum per store. The snippet's end is when its last frame was
captured; about one GOP (1 s) of that is the muxer waiting for the next keyframe before it can
close the file. The short last snippet of each recording is left out.

Stores: file (a temporary folder) and s3 (a private versitygw on 127.0.0.1, started and stopped
by the benchmark), or any --store URL. Target: p99 <= 1.5 s.

Options:
  --stores LIST       comma-separated: file, s3 or a store URL           [default: file,s3]
  --bus URL           embedded, nats://HOST:PORT or pubsub://PROJECT/TOPIC [default: embedded]
  --snippets N        whole snippets to measure per store, at least       [default: 40]
  --tracks N          host recordings at once                             [default: 4]
  --pattern P         bars or noise (busy picture: snippets near 5 Mbit/s) [default: noise]
  --json              also print the figures as one JSON line
  -h, --help          this help

Examples:
  tapedeck bench delivery
  tapedeck bench delivery --stores file --snippets 20 --tracks 2
`;

async function runDelivery(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    stores: { type: 'string' },
    bus: { type: 'string' },
    snippets: { type: 'string' },
    tracks: { type: 'string' },
    pattern: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(deliveryHelp);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const stores = (values.stores ?? 'file,s3').split(',').map((s) => s.trim());
  for (const s of stores)
    if (s !== 'file' && s !== 's3' && !/^(file|s3):\/\//.test(s))
      throw new UsageError(`--stores: "${s}" is not file, s3 or a file:// or s3:// URL`);
  const minSnippets = intOption('snippets', values.snippets, 40, 1, 10_000);
  const tracks = intOption('tracks', values.tracks, 4, 1, 16);
  const pattern = choiceOption('pattern', values.pattern, ['bars', 'noise'] as const, 'noise');
  const runs: AvailabilityRun[] = [];
  const tty = Boolean(process.stderr.isTTY);
  for (const store of stores) {
    process.stderr.write(
      `bench delivery: ${store}, ${tracks} recordings, at least ${minSnippets} snippets of 15 s…\n`,
    );
    runs.push(
      await runAvailability({
        store,
        ...(values.bus ? { busUrl: values.bus } : {}),
        tracks,
        minSnippets,
        snippetSeconds: 15,
        pattern,
        onProgress: (t) => (tty ? process.stderr.write(`\r${t}   `) : undefined),
      }),
    );
    if (tty) process.stderr.write('\n');
  }
  process.stdout.write(
    `tapedeck bench delivery: ${tracks} host recordings at once, pattern ${pattern}, bus ${runs[0]?.bus ?? ''}\n\n`,
  );
  process.stdout.write(formatAvailability(runs, 1.5));
  if (values.json) process.stdout.write(JSON.stringify({ tracks, pattern, runs }) + '\n');
  return 0;
}

async function runMedia(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    duration: { type: 'string' },
    kinds: { type: 'string' },
    pattern: { type: 'string' },
    rounds: { type: 'string' },
    keep: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(mediaHelp);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const durationSec = numberOption('duration', values.duration, 40, 2, 3600);
  let kinds: BenchKind[] = [...BENCH_KINDS];
  if (values.kinds !== undefined) {
    try {
      kinds = parseKinds(values.kinds);
    } catch (error) {
      throw new UsageError(`--kinds: ${(error as Error).message}`);
    }
  }
  const pattern = choiceOption('pattern', values.pattern, BENCH_PATTERNS, 'bars');
  const rounds = numberOption('rounds', values.rounds, 1, 1, 20, true);

  const abort = new AbortController();
  const onSignal = () => {
    process.stderr.write('\nstopping: finishing the running contender with EOS…\n');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = Boolean(process.stderr.isTTY);
  process.stderr.write(
    `bench media: ${kinds.join(', ')} × tapedeck, gst-launch, ffmpeg, ${durationSec} s each` +
      `${rounds > 1 ? `, ${rounds} rounds` : ''} ` +
      `(about ${Math.ceil((kinds.length * 3 * rounds * (durationSec + 5)) / 60)} min)\n`,
  );
  let result;
  try {
    result = await runMediaBench({
      kinds,
      durationSec,
      rounds,
      pattern,
      keep: Boolean(values.keep),
      signal: abort.signal,
      onProgress: ({ kind, contender, round, elapsedSec }) => {
        const line = `${kind}${rounds > 1 ? ` round ${round}` : ''}: ${contender} ${elapsedSec.toFixed(0)}/${durationSec} s…`;
        if (tty) process.stderr.write(`\r${line}  `);
        else if (Math.round(elapsedSec) % 10 === 0) process.stderr.write(`${line}\n`);
      },
      onRow: (row) => {
        const figures = `${(row.cpuShareOfCore * 100).toFixed(1)} % of a core, ${row.peakRssMiB.toFixed(1)} MiB, ${row.snippets} snippet${row.snippets === 1 ? '' : 's'}`;
        process.stderr.write(
          `${tty ? '\r' : ''}${row.kind}${rounds > 1 ? ` round ${row.round}` : ''}: ${row.contender} ${row.ok ? 'done' : 'FAILED'}: ${figures}` +
            `${row.problem ? ` (${row.problem})` : ''}${tty ? '   ' : ''}\n`,
        );
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const { rows } = result;
  const measured = kinds.filter((k) => rows.some((r) => r.kind === k));
  const reports = measured.map((k) => formatKindReport(k, rows, durationSec));
  process.stdout.write(
    `tapedeck bench media: pattern ${pattern}, ${durationSec} s per contender` +
      `${rounds > 1 ? `, ${rounds} rounds alternated (medians)` : ''}\n\n` +
      reports.join('\n') +
      (values.keep ? `\nsnippets kept in ${result.dir}\n` : '') +
      (result.aborted ? '\nstopped early: the remaining contenders did not run\n' : ''),
  );
  const failed = rows.filter((r) => !r.ok);
  if (values.json)
    process.stdout.write(JSON.stringify(toBenchJson(rows, { durationSec, pattern })) + '\n');
  if (failed.length)
    process.stderr.write(
      `FAILED: ${failed.map((r) => `${r.kind}/${r.contender} (${r.problem ?? 'no snippets'})`).join('; ')}\n`,
    );
  if (result.aborted) return 130;
  return failed.length ? 1 : 0;
}

const ingestHelp = `Usage: tapedeck bench ingest [options]

Measures what terminating WebRTC publishes costs. The ingest (LiveIngest behind the WHIP server)
runs in a child process of its own on 127.0.0.1, so its CPU is measured alone. For each count N
in --publishers, N publishers publish to it at once: N WHIP sessions, each its own peer
connection, URL and token, from one GStreamer load generator (whip-load.py) that encodes the
video once (640x360 15 fps H.264 at --kbps, a snow picture so that the encoder really produces
that bitrate) and the audio once (Opus), and sends both to every session. Once all have joined,
the ingest's process tree is sampled from /proc for --duration seconds; then the publishers stop
and the next count starts. With --per-process each publisher is a whip-publisher.py process
with an encoder of its own instead: closer to real hosts, but N encoders need N times the CPU.

Without --record the ingest forwards every host's RTP (video and audio) to UDP sinks of its own
process, as it would to recorders, and counts the datagrams. With --record a LivestreamRecorder
(a composite and one recording per host, snippets into a temporary folder) takes the RTP instead;
its media workers are children of the ingest process and are measured separately. As on a node,
hosts' recordings take spare media workers kept loaded (TAPEDECK_SPARE_MEDIA_WORKERS, default 4);
the window starts once the spares taken by the joins are replaced.

Reading the output, one row per count:
  publishers       joined / started
  ingest CPU %     user+system CPU of the ingest process tree over the steady-state window, in %
                   of one core (100 = one core busy); with --record, without its recorder workers
  recorders CPU %  (--record) the recorder workers' process trees, same unit
  per publisher %  ingest CPU % / N; includes the idle cost of the process, so it is pessimistic
                   for small N
  publishers/core  100 / per publisher %: how many publishers one core would take
  join p50/p99 ms  from the WHIP POST reaching the ingest (its createSession called, after the
                   token and SDP checks) to the first video RTP datagram forwarded to a sink;
                   with --record, to the host recording's first media written to disk (its
                   snippet file no longer empty), which includes starting its pipeline
  packets/s        RTP datagrams forwarded to the sinks per second (not shown with --record);
                   at 2500 kbit/s about 300 per publisher. Well below that, the machine (the
                   publishers included) did not keep up, and the CPU figures understate the cost
  publishers CPU % the publishers' processes (the load generator), same unit: not in the figures
                   above, but on the same cores
  other CPU %      the rest of the machine in the window; above 10 % of a core a WARNING says the
                   figures are less reliable (a busy machine slows the ingest and, on shared
                   machines, can inflate the CPU time it is charged)
  targets          reported, not enforced: >= 40 publishers per core (ingest only), join p99 <= 1 s

The publishers' own CPU (encoding, and their side of each session's encryption and sending) is
NOT counted in the ingest's figures; they run on the same machine, so a busy machine slows
everything. TAPEDECK_WERIFT_FAST_PATH=0 runs werift's own RTP parse and SRTP decrypt instead of
tapedeck's equivalents, to compare. All traffic stays
on 127.0.0.1. Ctrl-C stops every child and prints what was measured. A run takes about
(duration + 10 s) per count.

Options:
  --publishers LIST   comma-separated publisher counts, each 1 to 64       [default: 1,4,8]
  --kbps K            video bitrate of each publisher, kbit/s                [default: 2500]
  --duration SECONDS  steady-state measuring window per count               [default: 20]
  --record            record the livestream too (composite + one recording per host)
  --per-process       one whip-publisher.py process, with its own encoder, per publisher
  --json              also print the rows as one JSON line, the last line of stdout:
                      {"kbps","record","perProcess","rows":[{"publishers","joined","durationSec",
                      "treeCpuPct","recorderCpuPct","ingestCpuPct","perPublisherPct",
                      "publishersPerCore","joinMs":{"p50","p99","max"},"joinBasis",
                      "packetsPerSec","publishersCpuPct","otherCpuPct","problem"}]}
  -h, --help          this help

Examples:
  tapedeck bench ingest
  tapedeck bench ingest --publishers 16,32 --kbps 1500 --duration 30
  tapedeck bench ingest --record --publishers 4
  tapedeck bench ingest --per-process --publishers 1,2
`;

async function runIngest(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    publishers: { type: 'string' },
    kbps: { type: 'string' },
    duration: { type: 'string' },
    record: { type: 'boolean' },
    'per-process': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(ingestHelp);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  let publishers: number[];
  try {
    publishers = parsePublishers(values.publishers ?? '1,4,8');
  } catch (error) {
    throw new UsageError(`--publishers: ${(error as Error).message}`);
  }
  const kbps = intOption('kbps', values.kbps, 2500, 100, 20_000);
  const durationSec = numberOption('duration', values.duration, 20, 1, 3600);
  const record = Boolean(values.record);
  const perProcess = Boolean(values['per-process']);

  const abort = new AbortController();
  const onSignal = () => {
    process.stderr.write('\nstopping: ending publishers and the ingest…\n');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stderr.write(
    `bench ingest: ${publishers.join(', ')} publishers at ${kbps} kbit/s, ${durationSec} s each` +
      `${record ? ', recording' : ''}${perProcess ? ', one process per publisher' : ''}\n`,
  );
  const rows: Awaited<ReturnType<typeof runIngestBench>> = [];
  let failure: Error | undefined;
  try {
    await runIngestBench({
      publishers,
      kbps,
      durationSec,
      record,
      perProcess,
      signal: abort.signal,
      onProgress: (line) => process.stderr.write(`${line}\n`),
      onRow: (row) => rows.push(row),
    });
  } catch (error) {
    failure = error as Error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.stdout.write(
    `tapedeck bench ingest: ${kbps} kbit/s per publisher, ${durationSec} s per count` +
      `${record ? ', recording (composite + one per host)' : ', ingest only'}\n\n` +
      formatIngestReport(rows, { kbps, record, perProcess }),
  );
  if (values.json) process.stdout.write(JSON.stringify({ kbps, record, perProcess, rows }) + '\n');
  if (abort.signal.aborted) return 130;
  if (failure) {
    process.stderr.write(`FAILED: ${failure.message}\n`);
    return 1;
  }
  return rows.some((r) => r.problem) ? 1 : 0;
}

const scoringHelp = `Usage: tapedeck bench scoring [options]

Calibrates the quality scorer. Makes snippets offline with gst-launch-1.0, encoded and cut like
tapedeck's own (the recorder's encoders: H.264 Main 640x360 15 fps 5000 kbit/s with a keyframe
every 5 frames and AAC 44 kbit/s 48 kHz mono in MP4, or MP3; 15-second snippets by
splitmuxsink), then measures and scores every snippet exactly as the scorer does.

Impaired cases: each impairment, for each --durations length, at four places: the start of a
snippet, its middle (off the measuring grid), its end, and across a boundary (half at the end of
one snippet, half at the start of the next). Audio impairments are made in MP4 and in MP3.
  black     a black picture
  frozen    the picture of moving content held still
  silence   digital silence or near silence (noise at -72 dBFS)
  clipping  a sine tone driven 10 to 18 dB past full scale into hard clipping
  noise     loud white noise (-7 dBFS RMS before coding)
The rest of an impaired case is clean: moving pictures and speech-like audio.

Clean cases (--clean N, each made in MP4 and MP3): moving test pictures (ball, scrolling bars,
pinwheel, spokes, circles, zone plates, colours, snow…) with up to three cuts; audio is speech-
like (buzzy and bright tones or pink noise in bursts of 0.4 to 2.6 s at -28 to -14 dBFS, pauses
of 0.15 to 1.2 s with room tone), music (notes at -24 to -12 dBFS), speech over ticks, or quiet
speech at -44 to -34 dBFS. The content is generated from a fixed seed: runs are repeatable.

Reading the output:
  detection      per impairment and length: cases found / cases, and which were missed. A case
                 counts when a snippet holding the impairment is flagged with it, at its place.
                 Target: every impairment of 3 s or more.
  false positives  clean snippets sent to review / clean snippets, and each one with its reasons.
                 Target: at most 2 %.
  cost           CPU (user+system) per snippet: what the measuring process spent on its decode
                 and what this process spent on the arithmetic; core share = CPU s / 15 s, what
                 scoring every snippet of one recording as it comes takes of one core. Mean and
                 p95, and the wall time of one measurement.

Clips are made first (--jobs at once), then measured one at a time, so nothing else this
process starts runs while a measurement is timed. Other load on the machine slows the wall
times, not the CPU figures. A run of the defaults takes about 10 minutes.

Options:
  --clean N           clean cases (each in MP4 and MP3)                    [default: 100]
  --durations LIST    comma-separated impairment lengths in seconds, 1 to 15
                      [default: ${DEFAULT_DURATIONS.join(',')}]
  --work DIR          make the clips in a new folder under DIR             [default: the temp dir]
  --jobs N            clips made at once (measuring is one at a time)      [default: 2]
  --keep              keep the clips (the folder is printed)
  --json              also print the figures as one JSON line, the last line of stdout:
                      {"ok","detected","impaired","flagged","clean","rows":[{"impairment",
                      "durationSec","detected","total","missed"}],"falsePositives":[...],
                      "cost":[{"container","snippets","cpuSecMean","cpuSecP95","coreShareMean",
                      "coreShareP95","wallSecMean","wallSecP95"}],"failed","retries"}
  -h, --help          this help

Exit code 1 when an impairment is missed, more than 2 % of clean snippets are flagged or a clip
could not be made.

Examples:
  tapedeck bench scoring
  tapedeck bench scoring --clean 20 --durations 3 --json
`;

export function parseDurations(text: string): number[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) throw new UsageError('--durations: no length given');
  return parts.map((p) => numberOption('durations', p, 0, 1, 15));
}

async function runScoring(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    clean: { type: 'string' },
    durations: { type: 'string' },
    work: { type: 'string' },
    jobs: { type: 'string' },
    keep: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(scoringHelp);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const clean = intOption('clean', values.clean, 100, 0, 10_000);
  const durations =
    values.durations === undefined ? [...DEFAULT_DURATIONS] : parseDurations(values.durations);
  const abort = new AbortController();
  const onSignal = () => {
    process.stderr.write('\nstopping…\n');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = Boolean(process.stderr.isTTY);
  process.stderr.write(
    `bench scoring: impairments of ${durations.join(', ')} s, ${clean} clean cases in MP4 and MP3\n`,
  );
  let result;
  try {
    result = await runScoringBench({
      clean,
      durations,
      ...(values.work ? { workDir: values.work } : {}),
      keep: Boolean(values.keep),
      jobs: intOption('jobs', values.jobs, 2, 1, 16),
      signal: abort.signal,
      onProgress: (line) => (tty ? process.stderr.write(`\r${line}      `) : undefined),
    });
  } catch (error) {
    if (abort.signal.aborted) return 130;
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (tty) process.stderr.write('\n');
  const json = toScoringJson(result);
  process.stdout.write(
    `tapedeck bench scoring: ${json.impaired} impaired cases (${durations.join(', ')} s), ` +
      `${json.clean} clean snippets; clips made in ${result.generateSec.toFixed(0)} s\n\n` +
      formatScoringReport(result) +
      '\n' +
      (values.keep ? `clips kept in ${result.dir}\n` : ''),
  );
  if (values.json) process.stdout.write(JSON.stringify(json) + '\n');
  return json.ok ? 0 : 1;
}
