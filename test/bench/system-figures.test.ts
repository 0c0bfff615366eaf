import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rtpSdp } from '../../src/bench/system/ffmpeg-contender.ts';
import { ffmpegRecorderArgs } from '../../src/bench/ffmpeg-recorder.ts';
import {
  processRole,
  totalsByRole,
  type ProcessRow,
} from '../../src/bench/system/process-table.ts';
import {
  expectedSnippets,
  hostDropProblems,
  ingestLossProblems,
  largestHolding,
  notPublishingProblems,
  recorderMissProblems,
  nextLivestreams,
  realTimeProblems,
  recordingFigures,
  reviewLine,
  reviewProblems,
  type SeenSnippet,
} from '../../src/bench/system/recording-figures.ts';
import {
  compactRows,
  cpuPerLivestream,
  formatFfmpeg,
  formatSummary,
  systemResult,
  type RoundJson,
} from '../../src/bench/system/system-report.ts';

const T = { timeout: 10_000 };
const T0 = Date.UTC(2026, 11, 1, 4, 0, 0);

/** n whole snippets from T0, each announced `lagMs` after its end, with `frames` video frames. */
function snippets(
  n: number,
  o: { lagMs?: number | ((i: number) => number); frames?: number } = {},
): SeenSnippet[] {
  return Array.from({ length: n }, (_, i) => {
    const startMs = T0 + i * 15_000;
    const lag = typeof o.lagMs === 'function' ? o.lagMs(i) : (o.lagMs ?? 500);
    return {
      livestreamId: 'ls',
      track: 'composite',
      key: `ls/composite/mp4/${i}.mp4`,
      startMs,
      endMs: startMs + 15_000,
      durationMs: 15_000,
      announcedMs: startMs + 15_000 + lag,
      videoFrames: o.frames ?? 225,
    };
  });
}

const rules = { snippetSec: 15, fps: 15, lateAfterSec: 5, stopAtMs: T0 + 60_000 };

describe('recording figures', () => {
  test(
    'a recording that keeps up: every snippet, real-time factor 1, latency as announced',
    T,
    () => {
      const f = recordingFigures(snippets(4), rules);
      assert.equal(f.delivered, 4);
      assert.equal(f.expected, 4);
      assert.equal(f.holes, 0);
      assert.equal(f.late, 0);
      assert.equal(f.droppedFrames, 0);
      assert.equal(f.expectedFrames, 4 * 225);
      assert.equal(f.realTimeFactor, 1);
      assert.equal(f.latencySec.p50, 0.5);
      assert.deepEqual(realTimeProblems([f], 1), []);
    },
  );

  test(
    'a recording that falls behind: growing latency gives a factor below 1 and late snippets',
    T,
    () => {
      const f = recordingFigures(snippets(4, { lagMs: (i) => 500 + i * 3_000 }), rules);
      // 45 s of media advanced over 54 s of wall time.
      assert.equal(f.realTimeFactor!.toFixed(4), (45 / 54).toFixed(4));
      assert.equal(f.late, 2, 'announced 6.5 s and 9.5 s after their ends');
      const problems = realTimeProblems([f], 1);
      assert.ok(problems.some((p) => /late/.test(p)));
      assert.ok(problems.some((p) => /real-time factor 0\.833/.test(p)));
    },
  );

  test('missing snippets, holes and dropped frames are each a problem', T, () => {
    const all = snippets(4, { frames: 200 });
    const f = recordingFigures([all[0]!, all[2]!, all[3]!], rules);
    assert.equal(f.delivered, 3);
    assert.equal(f.holes, 1);
    assert.equal(f.droppedFrames, 3 * 25);
    const problems = realTimeProblems([f], 2);
    // Too few recordings, a missing snippet, a hole, dropped frames.
    assert.equal(problems.length, 4, problems.join('\n'));
  });

  test('hosts that dropped off fail the round, named once each, the first one first', T, () => {
    assert.deepEqual(hostDropProblems([], 12), []);
    const drops = [
      { livestreamId: 'ls-2', hostId: 'h3', atMs: T0 + 9_000, detail: 'ice-failed' },
      { livestreamId: 'ls-1', hostId: 'h1', atMs: T0 + 2_500, detail: 'ice-failed' },
      { livestreamId: 'ls-2', hostId: 'h3', atMs: T0 + 30_000 },
    ];
    assert.deepEqual(hostDropProblems(drops, 12), [
      '2 of 12 hosts dropped off, first ls-1/h1 at 04:00:02.500 (ice-failed)',
    ]);
  });

  test(
    'RTP lost on the way into the ingest fails the round above one packet in a thousand',
    T,
    () => {
      const host = (hostId: string, packets: number, lost: number) => ({
        livestreamId: 'ls',
        hostId,
        packets,
        lost,
      });
      assert.deepEqual(ingestLossProblems([]), []);
      assert.deepEqual(ingestLossProblems([host('h1', 10_000, 0), host('h2', 9_990, 10)]), []);
      assert.deepEqual(ingestLossProblems([host('h1', 10_000, 0), host('h2', 9_900, 100)]), [
        '100 of 20000 RTP packets (0.50 %) never reached the ingest; most from ls/h2 (100)',
      ]);
    },
  );

  test(
    'what recorders missed of the RTP sent to them fails above one packet in a thousand',
    T,
    () => {
      assert.deepEqual(recorderMissProblems(0, 0), []);
      assert.deepEqual(recorderMissProblems(20, 20_000), []);
      assert.deepEqual(recorderMissProblems(30, 20_000), [
        'the recorders missed 30 of about 20000 RTP packets forwarded to them (0.15 %): they fell behind',
      ]);
    },
  );

  test("a review of the bench's clean hosts fails the round", T, () => {
    assert.deepEqual(reviewProblems(0), []);
    assert.deepEqual(reviewProblems(19), [
      "19 review(s) of hosts that sent a clean picture and sound: the recordings lost some (the lines above say what scoring found, the node's log why: e.g. sound its mixers dropped as late)",
    ]);
  });

  test('a review is printed with what scoring found, when and for how long', T, () => {
    const at = Date.UTC(2026, 11, 6, 23, 27, 9, 500);
    const finding = (impairment: 'silence' | 'frozen', ms: number, score: number) => ({
      impairment,
      startMs: at,
      endMs: at + ms,
      snippetKey: 'k',
      score,
    });
    assert.equal(
      reviewLine({
        livestreamId: 'sys-1-1-abc',
        track: 'host-h2-mp4',
        findings: [finding('silence', 3_240, 20), finding('frozen', 2_000, 40)],
      }),
      'review of sys-1-1-abc/host-h2-mp4: silence 3.2 s from 23:27:09.500 (score 20); frozen 2.0 s from 23:27:09.500 (score 40)',
    );
    assert.equal(
      reviewLine({ livestreamId: 'l', track: 'composite', findings: [] }),
      'review of l/composite: no finding',
    );
  });

  test('expected snippets count a last one of a second or more', T, () => {
    assert.equal(expectedSnippets(T0, T0 + 45_000, 15), 3);
    assert.equal(expectedSnippets(T0, T0 + 45_900, 15), 3);
    assert.equal(expectedSnippets(T0, T0 + 46_000, 15), 4);
    assert.equal(expectedSnippets(T0, T0 - 5, 15), 0);
    // Frame-exact snippets end a few ms either side of 15 s.
    assert.equal(expectedSnippets(T0, T0 + 44_990, 15), 3);
  });

  test('a recorder the stop reached later counts the short last snippet it cut there', T, () => {
    // Stopped 0.4 s after a cut, the recorder ran on to 1.5 s past it.
    assert.equal(expectedSnippets(T0, T0 + 45_400, 15, T0 + 46_500), 4);
    assert.equal(expectedSnippets(T0, T0 + 45_400, 15, T0 + 45_700), 4);
    // One that ended before the stop is still expected up to the stop.
    assert.equal(expectedSnippets(T0, T0 + 60_000, 15, T0 + 30_000), 4);
    const all = snippets(4);
    const tail = { ...all[3]!, key: 'ls/composite/mp4/4.mp4', startMs: T0 + 60_000 };
    const past = [...all, { ...tail, endMs: T0 + 60_700, durationMs: 700 }];
    const f = recordingFigures(past, { ...rules, stopAtMs: T0 + 60_300 });
    assert.equal(f.delivered, 5);
    assert.equal(f.expected, 5);
  });

  test('audio-only snippets count no frames, and one whole snippet gives no factor', T, () => {
    const one = snippets(1).map((s) => ({ ...s, videoFrames: null }));
    const f = recordingFigures(one, { ...rules, stopAtMs: T0 + 15_000 });
    assert.equal(f.expectedFrames, 0);
    assert.equal(f.realTimeFactor, null);
    assert.throws(() => recordingFigures([], rules), /without snippets/);
  });
});

describe('hosts at the end of a window', () => {
  test('every host publishing is no problem; the others are named', T, () => {
    const host = (hostId: string, connection: 'absent' | 'publishing' | 'dropped') => ({
      livestreamId: 'ls',
      hostId,
      connection,
    });
    assert.deepEqual(
      notPublishingProblems([host('h1', 'publishing'), host('h2', 'publishing')]),
      [],
    );
    assert.deepEqual(
      notPublishingProblems([
        host('h1', 'publishing'),
        host('h2', 'dropped'),
        host('h3', 'absent'),
      ]),
      ['2 of 3 hosts were not publishing when the window ended: ls/h2 (dropped), ls/h3 (absent)'],
    );
    const many = Array.from({ length: 6 }, (_, i) => host(`h${i + 1}`, 'dropped'));
    assert.match(notPublishingProblems(many)[0]!, /^6 of 6 hosts .*ls\/h4 \(dropped\), …$/);
  });
});

describe('searching the count of livestreams', () => {
  test('up while rounds hold, down while they do not, each count once', T, () => {
    assert.equal(nextLivestreams([{ livestreams: 3, holds: true }], 8), 4);
    assert.equal(
      nextLivestreams(
        [
          { livestreams: 3, holds: true },
          { livestreams: 4, holds: false },
        ],
        8,
      ),
      null,
    );
    assert.equal(nextLivestreams([{ livestreams: 3, holds: false }], 8), 2);
    assert.equal(
      nextLivestreams(
        [
          { livestreams: 3, holds: false },
          { livestreams: 2, holds: true },
        ],
        8,
      ),
      null,
    );
    assert.equal(nextLivestreams([{ livestreams: 1, holds: false }], 8), null);
    assert.equal(nextLivestreams([{ livestreams: 8, holds: true }], 8), null);
    assert.equal(
      largestHolding([
        { livestreams: 3, holds: true },
        { livestreams: 4, holds: false },
      ]),
      3,
    );
    assert.equal(largestHolding([{ livestreams: 1, holds: false }]), 0);
  });
});

describe('process table', () => {
  test('roles from command lines', T, () => {
    assert.equal(processRole('node --import tsx src/cli/main.ts demo', true), 'node');
    assert.equal(
      processRole('/repo/.tools/bin/temporal server start-dev --port 7233 --db-filename x', false),
      'Temporal server',
    );
    assert.equal(
      processRole(
        '/usr/bin/node --import /r/tsx/esm.mjs /r/src/cli/main.ts worker --node n1',
        false,
      ),
      'Temporal worker',
    );
    assert.equal(
      processRole(
        '/usr/bin/node /r/node_modules/.cache/tapedeck/media/worker/main-ab12.mjs',
        false,
      ),
      'media worker',
    );
    assert.equal(processRole('gst-launch-1.0 -q filesrc location=x', false), 'GStreamer tool');
    assert.equal(
      processRole(
        '/usr/bin/node /r/node_modules/.cache/tapedeck/media/decoder/main-ab.mjs {}',
        false,
      ),
      'shared decoder',
    );
    assert.equal(
      processRole(
        '/usr/bin/node /repo/node_modules/.cache/tapedeck/moderation/measure-worker/main-ab.mjs',
        false,
      ),
      'measuring process',
    );
    assert.equal(processRole('ffmpeg -hide_banner -i x.sdp', false), 'ffmpeg');
    assert.equal(processRole('/bin/sh -c true', false), 'other');
    assert.equal(
      processRole('/bin/sh -c exec "$@" guard temporal server start-dev --port 1', false),
      'other',
    );
  });

  test('totals per role, busiest first', T, () => {
    const row = (role: ProcessRow['role'], cpuPct: number, peakRssMiB: number): ProcessRow => ({
      pid: 1,
      role,
      command: '',
      cpuPct,
      peakRssMiB,
      lastRssMiB: peakRssMiB,
    });
    const totals = totalsByRole([
      row('media worker', 10, 100),
      row('node', 5, 200),
      row('media worker', 12, 110),
    ]);
    assert.deepEqual(totals, [
      { role: 'media worker', processes: 2, cpuPct: 22, peakRssMiB: 210 },
      { role: 'node', processes: 1, cpuPct: 5, peakRssMiB: 200 },
    ]);
  });
});

describe('the ffmpeg contender', () => {
  test('an SDP per host with its video and audio ports and codecs', T, () => {
    const sdp = rtpSdp(
      'ls/h1',
      {
        port: 20_000,
        codec: { codec: 'H264', payloadType: 96, clockRate: 90_000, fmtp: 'packetization-mode=1' },
      },
      { port: 20_002, codec: { codec: 'OPUS', payloadType: 111, clockRate: 48_000, fmtp: '' } },
    );
    assert.match(sdp, /^v=0\r\n/);
    assert.match(sdp, /\r\nc=IN IP4 127\.0\.0\.1\r\n/);
    assert.match(
      sdp,
      /\r\nm=video 20000 RTP\/AVP 96\r\na=rtpmap:96 H264\/90000\r\na=fmtp:96 packetization-mode=1\r\n/,
    );
    assert.match(sdp, /\r\nm=audio 20002 RTP\/AVP 111\r\na=rtpmap:111 opus\/48000\/2\r\n$/);
  });

  test('ffmpeg reads one SDP per host and runs until stopped', T, () => {
    const args = ffmpegRecorderArgs({
      kind: 'composite',
      inputs: 2,
      durationSec: Infinity,
      outDir: '/tmp/x',
      canvas: { width: 360, height: 640 },
      fps: 15,
      gopFrames: 5,
      videoKbps: 5000,
      preset: 'superfast',
      audioKbps: 44,
      audioChannels: 2,
      snippetSec: 15,
      sdpInputs: ['/tmp/a.sdp', '/tmp/b.sdp'],
    });
    const joined = args.join(' ');
    assert.equal(args.filter((a) => a === '-i').length, 2);
    assert.match(joined, /-protocol_whitelist file,udp,rtp .*-i \/tmp\/a\.sdp/);
    assert.match(joined, /\[0:v\]scale.*\[1:v\]scale/);
    assert.match(joined, /\[0:a\]\[1:a\]amix=inputs=2/);
    assert.ok(!args.includes('-t'));
    assert.ok(!args.includes('lavfi'));
    assert.throws(
      () =>
        ffmpegRecorderArgs({
          kind: 'host',
          inputs: 1,
          durationSec: 10,
          outDir: '/tmp/x',
          canvas: { width: 640, height: 360 },
          fps: 15,
          gopFrames: 5,
          videoKbps: 5000,
          preset: 'superfast',
          audioKbps: 44,
          audioChannels: 2,
          snippetSec: 15,
          sdpInputs: [],
        }),
      /1 inputs but 0 SDP files/,
    );
  });
});

describe('the system result', () => {
  const round = (livestreams: number, holds: boolean, media: number, other: number): RoundJson => ({
    livestreams,
    recordings: livestreams * 5,
    holds,
    problems: [],
    snippets: { expected: 0, delivered: 0, late: 0 },
    droppedFrames: 0,
    expectedFrames: 0,
    ingest: { packets: 0, lost: 0, soundLateWorstMs: 0 },
    latencySec: { n: 0, p50: 0, p99: 0, max: 0 },
    realTimeFactor: { min: 1, each: {} },
    reviews: 0,
    eventLoopDelayMs: { p99: 0, max: 0, stallsOver300: 0 },
    processes: [
      { pid: 2, role: 'media worker', command: '', cpuPct: media, peakRssMiB: 1, lastRssMiB: 1 },
      { pid: 1, role: 'node', command: '', cpuPct: other, peakRssMiB: 1, lastRssMiB: 1 },
    ],
    byRole: [],
  });

  test('CPU per livestream against ffmpeg at the same count, and the targets', T, () => {
    const ffmpeg = {
      livestreams: 3,
      recorders: 15,
      segments: 60,
      holds: false,
      problems: ['the recorders missed 300 of about 200000 RTP packets'],
      ingest: { packets: 100_000, lost: 0 },
      recorderRtp: { forwarded: 200_000, missed: 300, missedBeforeWindow: 40 },
      processes: [
        { pid: 3, role: 'ffmpeg' as const, command: '', cpuPct: 120, peakRssMiB: 1, lastRssMiB: 1 },
        { pid: 1, role: 'node' as const, command: '', cpuPct: 30, peakRssMiB: 1, lastRssMiB: 1 },
      ],
      byRole: [],
    };
    const r3 = round(3, true, 90, 30);
    assert.deepEqual(cpuPerLivestream(r3, ffmpeg), {
      tapedeckPct: 40,
      tapedeckMediaPct: 30,
      ffmpegPct: 40,
      ffmpegWithIngestPct: 50,
    });
    const s = systemResult([r3, round(4, false, 150, 40)], ffmpeg);
    assert.equal(s.largestLivestreams, 3);
    assert.match(
      formatSummary(s),
      /ffmpeg-based recorder at 3 livestream\(s\): did not hold real time/,
    );
    assert.match(
      formatFfmpeg(ffmpeg),
      /holds real time: NO; RTP lost on the way in 0 of 100000, missed by the recorders 300 of about 200000 in the window \(40 before it, while they started\)\n {3}the recorders missed 300/,
    );
    assert.deepEqual(
      s.targets.map((t) => t.met),
      [true, true],
    );
    const none = systemResult([round(3, false, 90, 30), round(2, false, 60, 20)], null);
    assert.equal(none.largestLivestreams, 0);
    assert.equal(none.cpuPerLivestream, null);
    assert.deepEqual(
      none.targets.map((t) => t.met),
      [false],
    );
  });
  test(
    'repeated comparisons: the target is judged on the medians, each pair listed in order',
    T,
    () => {
      const ff = (recorders: number, ingest: number, holds = true) => ({
        livestreams: 2,
        recorders: 10,
        segments: 40,
        holds,
        problems: [],
        ingest: { packets: 1, lost: 0 },
        recorderRtp: { forwarded: 1, missed: 0 },
        processes: [
          {
            pid: 3,
            role: 'ffmpeg' as const,
            command: '',
            cpuPct: recorders,
            peakRssMiB: 1,
            lastRssMiB: 1,
          },
          {
            pid: 1,
            role: 'node' as const,
            command: '',
            cpuPct: ingest,
            peakRssMiB: 1,
            lastRssMiB: 1,
          },
        ],
        byRole: [],
      });
      // Per livestream: tapedeck 60, 50, 40; ffmpeg with its ingest 50, 55, 45. One pair alone
      // (the last) would say tapedeck is cheaper; the first alone that it is not.
      const s = systemResult([round(2, true, 80, 40)], ff(80, 20), {
        tapedeck: [round(2, true, 70, 30), round(2, false, 50, 30)],
        ffmpeg: [ff(90, 20), ff(70, 20, false)],
      });
      assert.equal(s.comparison.length, 3);
      assert.deepEqual(
        s.comparison.map((c) => [c.tapedeckPct, c.ffmpegWithIngestPct]),
        [
          [60, 50],
          [50, 55],
          [40, 45],
        ],
      );
      assert.deepEqual(s.cpuPerLivestream, {
        tapedeckPct: 50,
        tapedeckMediaPct: 35,
        ffmpegPct: 40,
        ffmpegWithIngestPct: 50,
      });
      // 50 is not below 50.
      assert.deepEqual(
        s.targets.map((t) => t.met),
        [false, false],
      );
      assert.match(s.targets[1]!.detail, /medians of 3 comparisons/);
      const summary = formatSummary(s);
      assert.match(
        summary,
        /repeated rounds at 2 livestream\(s\): tapedeck 1 of 2 held, ffmpeg 1 of 2 held/,
      );
      assert.match(
        summary,
        /median of 3 alternated comparisons: tapedeck 50\.0 \[60\.0, 50\.0, 40\.0\] .*ffmpeg 50\.0 \[50\.0, 55\.0, 45\.0\] with the ingest .*ratio 1\.00x \[1\.20x, 0\.91x, 0\.89x\]/,
      );
      // One comparison prints no brackets.
      assert.doesNotMatch(formatSummary(systemResult([round(2, true, 80, 40)], ff(80, 20))), /\[/);
    },
  );
});

describe('process rows in the report', () => {
  test(
    'helpers are summed into one row; processes that worked keep their own, busiest first',
    { timeout: 10_000 },
    () => {
      const row = (pid: number, role: ProcessRow['role'], cpuPct: number): ProcessRow => ({
        pid,
        role,
        command: '',
        cpuPct,
        peakRssMiB: 2,
        lastRssMiB: 1,
      });
      const rows = compactRows([
        row(1, 'node', 10),
        row(2, 'other', 0.1),
        row(3, 'GStreamer tool', 0.05),
        row(4, 'media worker', 20),
        row(5, 'GStreamer tool', 0.6),
        row(6, 'other', 0),
      ]);
      assert.deepEqual(
        rows.map((r) => [r.pid, r.role]),
        [
          [4, 'media worker'],
          [1, 'node'],
          [5, 'GStreamer tool'],
          [0, 'other'],
        ],
      );
      assert.equal(rows[3]!.command, '3 helpers (shells, sleeps, short tools)');
      assert.equal(rows[3]!.peakRssMiB, 6);
    },
  );
});
