import { resolve } from 'node:path';
import { formatSummary } from '../bench/system/system-report.ts';
import { HOSTS_PER_LIVESTREAM, runSystemBench } from '../bench/system/system-bench.ts';
import { intOption, numberOption, parseOptions, UsageError } from './command.ts';

export const systemHelp = `Usage: tapedeck bench system [options]

How many ${HOSTS_PER_LIVESTREAM}-host livestreams one node records at real time. A whole node runs here (Temporal's dev
server, the WHIP ingest, two workers with their media processes, a file store, the embedded bus
and the quality scorer), and each round publishes K livestreams of ${HOSTS_PER_LIVESTREAM} synthetic WHIP hosts to it:
5 recordings per livestream (the composite and one per host), every snippet delivered, announced
and scored. The hosts come from one GStreamer process that encodes once and publishes every
session (its CPU is left out of the figures, but it runs on the same cores).

A round waits --warmup seconds once every host publishes, measures --duration seconds, stops the
livestreams and judges every recording from what was delivered. It holds real time when every
recording has all its snippets, no hole, no late snippet, a real-time factor of 0.97 or more and
at most 1 % of its frames missing, no host dropped off, at most one RTP packet in a thousand
never reached the ingest, and no review: the hosts send a clean, moving picture and a steady tone,
so a review is sound or picture the recordings lost (a --pattern scoring flags, such as black,
fails every round). A round whose load generator lost a session or ended does not hold
either, and says so. With --search (the default) the count goes up from
--livestreams while rounds hold and down while they do not.

Then the same hosts, at the largest count that held (or --ffmpeg-livestreams), are recorded by a
plain ffmpeg-based recorder instead: the node's ingest sends copies of their RTP to one ffmpeg per
recording (libx264 and AAC at the same settings, 15-s segments), and its CPU is measured over the
same window. It holds real time when at most one RTP packet in a thousand never reached the ingest,
the recorders missed at most one in a thousand of what was sent to them in the window (ffmpeg's
"RTP: missed" warnings: on loopback, a recorder that fell behind; what they miss while starting is
printed apart), no recorder ended early, and every host still published at the window's end.
Run at a count tapedeck did not hold, it shows whether this machine carries that many at all.
One comparison moves by several points from run to run; --rounds N compares N times at that
count, tapedeck and ffmpeg alternating which goes first, and judges the medians.

Reading the output, per round:
  snippets          delivered / expected (from the recording's first snippet to the stop)
  late              snippets announced more than --late-after seconds after their last frame
  dropped frames    video frames missing against 15 fps, over frames expected
  RTP lost          packets the hosts sent that never reached the ingest (gaps in sequence
                    numbers; on loopback, the ingest fell behind and its socket overflowed)
  real-time factor  media time advanced per wall second between the first and the last whole
                    snippet's announcement: 1.000 keeps up, less falls behind
  latency           from a snippet's last frame to its announcement on the bus, p50/p99
  process rows      CPU as % of one core over the window and peak RSS, every process of the node
                    (node = ingest, API, Temporal client, delivery and scoring's arithmetic;
                    "measuring process" = scoring's decodes; "ended children" = short-lived
                    processes such as a clip merge)
Summary: the largest count that held, CPU per livestream against ffmpeg's (with the ingest that
feeds it, and recorders alone) and the targets: >= 3 livestreams, CPU below ffmpeg's.

Options:
  --livestreams K       the first count to try                                    [default: 3]
  --duration SECONDS    measured window of each round                            [default: 60]
  --warmup SECONDS      from every host publishing to the window                 [default: 20]
  --no-search           run only --livestreams
  --max-livestreams N   never try more                                           [default: 8]
  --no-ffmpeg           leave out the ffmpeg comparison
  --shared-decode       the node decodes each host's video once (tapedeck up --shared-decode)
  --host-tiles          the composites take tiles from the host recordings (tapedeck up --host-tiles)
  --ffmpeg-livestreams K
                        record K livestreams with ffmpeg    [default: the largest count that held]
  --rounds N            compare tapedeck and ffmpeg N times at that count           [default: 1]
  --pattern P           the hosts' picture, a videotestsrc pattern (snow is the hardest to
                        encode)                                                 [default: smpte]
  --scroll PIXELS       how far the picture moves sideways per frame; a still picture would
                        be scored as frozen                                      [default: 4]
  --kbps N              each host's video bitrate                                [default: 2500]
  --late-after SECONDS  a snippet announced later than this is late              [default: 5]
  --data DIR            keep the node's data (snippets, events, ffmpeg segments) here instead
                        of a temporary folder removed at the end
  --json                also print the result as one JSON line, the last line of stdout
  -h, --help            this help

A round takes about warmup + duration + 40 s. Everything stays on 127.0.0.1.

Examples:
  tapedeck bench system
  tapedeck bench system --livestreams 2 --duration 45 --no-search --no-ffmpeg
  tapedeck bench system --livestreams 3 --no-search      (both at 3: does ffmpeg hold them?)
  tapedeck bench system --livestreams 2 --no-search --rounds 3    (medians of three comparisons)
`;

export async function runSystem(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    livestreams: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'no-search': { type: 'boolean' },
    'max-livestreams': { type: 'string' },
    'no-ffmpeg': { type: 'boolean' },
    'shared-decode': { type: 'boolean' },
    'host-tiles': { type: 'boolean' },
    'ffmpeg-livestreams': { type: 'string' },
    rounds: { type: 'string' },
    pattern: { type: 'string' },
    scroll: { type: 'string' },
    kbps: { type: 'string' },
    'late-after': { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(systemHelp);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (values['shared-decode'] && values['host-tiles'])
    throw new UsageError(
      '--shared-decode and --host-tiles are two ways to share a picture: choose one',
    );
  const maxLivestreams = intOption('max-livestreams', values['max-livestreams'], 8, 1, 32);
  const livestreams = intOption('livestreams', values.livestreams, 3, 1, maxLivestreams);
  const pairs = intOption('rounds', values.rounds, 1, 1, 9);
  if (pairs > 1 && values['no-ffmpeg'])
    throw new UsageError('--rounds compares with ffmpeg: it cannot go with --no-ffmpeg');
  const pattern = values.pattern ?? 'smpte';
  if (!/^[a-z0-9-]+$/.test(pattern))
    throw new UsageError(`--pattern: "${pattern}" is not a videotestsrc pattern name`);
  const result = await runSystemBench({
    livestreams,
    search: !values['no-search'],
    maxLivestreams,
    // Two whole snippets at least, for a real-time factor.
    windowSec: intOption('duration', values.duration, 60, 35, 3600),
    warmupSec: intOption('warmup', values.warmup, 20, 5, 600),
    ffmpeg: !values['no-ffmpeg'],
    pairs,
    sharedDecode: values['shared-decode'] === true,
    hostTiles: values['host-tiles'] === true,
    ...(values['ffmpeg-livestreams'] !== undefined
      ? {
          ffmpegLivestreams: intOption(
            'ffmpeg-livestreams',
            values['ffmpeg-livestreams'],
            1,
            1,
            maxLivestreams,
          ),
        }
      : {}),
    load: {
      kbps: intOption('kbps', values.kbps, 2500, 100, 20_000),
      pattern,
      scroll: intOption('scroll', values.scroll, 4, 0, 64),
      // Four hosts' tones sum in the composite: at 0.15 each they stay well below full scale.
      volume: 0.15,
    },
    lateAfterSec: numberOption('late-after', values['late-after'], 5, 0.5, 60),
    ...(values.data ? { dataDir: resolve(values.data) } : {}),
    progress: (line) => process.stderr.write(`${line}\n`),
    report: (text) => process.stdout.write(`${text}\n`),
  });
  process.stdout.write(formatSummary(result));
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  return result.rounds.length > 0 ? 0 : 1;
}
