import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  benchSpecs,
  evaluateTargets,
  formatKindReport,
  formatOtherLoad,
  formatTargets,
  parseKinds,
  rowLabel,
  splitLaunchArgs,
  targetsFor,
  toBenchJson,
  warmupSec,
  type BenchJson,
  type BenchKind,
  type BenchRow,
  type ContenderName,
} from '../../src/bench/media-bench.ts';
import { parseCpuBusyTicks } from '../../src/bench/machine-load.ts';
import { buildPipeline } from '../../src/media/pipeline/build.ts';

const TAPEDECK = fileURLToPath(new URL('../../tapedeck', import.meta.url));

function row(
  kind: BenchKind,
  contender: ContenderName,
  cpuShareOfCore: number,
  peakRssMiB: number,
  extra: Partial<BenchRow> = {},
): BenchRow {
  return {
    name: contender,
    kind,
    contender,
    round: 1,
    ok: true,
    wallSec: 40,
    cpuSec: cpuShareOfCore * 40,
    cpuShareOfCore,
    peakRssMiB,
    snippets: 3,
    snippetSeconds: [15, 15, 10],
    steadyCpuShareOfCore: cpuShareOfCore * 0.9,
    otherCpuShareOfCore: 0.02,
    ...extra,
  };
}

/** Whitespace runs outside double quotes shortened to one space, as gst-launch re-joins argv. */
function normalise(description: string): string {
  let out = '';
  let inQuotes = false;
  for (let i = 0; i < description.length; i++) {
    const c = description[i]!;
    if (c === '"' && (!inQuotes || description[i - 1] !== '\\')) inQuotes = !inQuotes;
    if (!inQuotes && /\s/.test(c)) {
      if (!out.endsWith(' ')) out += ' ';
    } else out += c;
  }
  return out.trim();
}

describe('splitLaunchArgs', { timeout: 5_000 }, () => {
  it('splits on whitespace outside quotes', { timeout: 1_000 }, () => {
    assert.deepEqual(splitLaunchArgs('  a ! b   name=x\n!  c. '), [
      'a',
      '!',
      'b',
      'name=x',
      '!',
      'c.',
    ]);
    assert.deepEqual(splitLaunchArgs(''), []);
  });

  it('keeps quoted values with spaces and newlines in one argument', { timeout: 1_000 }, () => {
    assert.deepEqual(
      splitLaunchArgs(
        'textoverlay text="Host 1" font-desc="Sans Bold 28"  filesink location="/tmp/a b/x_%06d.mp4"',
      ),
      [
        'textoverlay',
        'text="Host 1"',
        'font-desc="Sans Bold 28"',
        'filesink',
        'location="/tmp/a b/x_%06d.mp4"',
      ],
    );
    assert.deepEqual(splitLaunchArgs('t text="Host 1\ncamera off" x=1'), [
      't',
      'text="Host 1\ncamera off"',
      'x=1',
    ]);
  });

  it('treats \\" inside quotes as part of the value', { timeout: 1_000 }, () => {
    assert.deepEqual(splitLaunchArgs('t text="say \\"hi there\\"" x=1'), [
      't',
      'text="say \\"hi there\\""',
      'x=1',
    ]);
  });

  it('rejects unbalanced quotes', { timeout: 1_000 }, () => {
    assert.throws(() => splitLaunchArgs('t text="Host 1 x=1'), /unbalanced quotes/);
  });

  it('round-trips every kind of real pipeline', { timeout: 2_000 }, () => {
    for (const kind of ['composite', 'host', 'audio'] as const) {
      const dirs = { tapedeck: '/tmp/bench dir/tapedeck', ffmpeg: '/tmp/bench dir/ffmpeg' };
      const { launch } = buildPipeline(benchSpecs(kind, 'bars', dirs, 40).recording);
      const args = splitLaunchArgs(launch);
      assert.equal(args.join(' '), normalise(launch), kind);
      for (const arg of args) {
        // No whitespace outside quotes: gst-launch would escape it and fail to parse.
        assert.doesNotMatch(arg.replace(/"(\\.|[^"\\])*"/g, '""'), /\s/, arg);
      }
      assert.ok(
        args.includes(
          `location="/tmp/bench dir/tapedeck/${kind}_%06d.mp${kind === 'audio' ? 3 : 4}"`,
        ),
      );
      if (kind !== 'audio') {
        assert.ok(args.includes('font-desc="Sans Bold 28"'), kind);
        assert.ok(args.includes('text="Host 1"'), kind);
        assert.ok(args.includes('text="Host 1\ncamera off"'), kind);
      }
    }
  });
});

describe('parseKinds', { timeout: 5_000 }, () => {
  it('returns a subset in canonical order without repeats', { timeout: 1_000 }, () => {
    assert.deepEqual(parseKinds('audio'), ['audio']);
    assert.deepEqual(parseKinds('audio, composite,audio'), ['composite', 'audio']);
    assert.deepEqual(parseKinds('host,audio,composite'), ['composite', 'host', 'audio']);
  });

  it('rejects unknown and empty lists', { timeout: 1_000 }, () => {
    assert.throws(() => parseKinds('video'), /unknown kind "video"/);
    assert.throws(() => parseKinds(' , '), /no kind/);
  });
});

describe('benchSpecs', { timeout: 5_000 }, () => {
  const dirs = { tapedeck: '/tmp/t', ffmpeg: '/tmp/f' };

  it('gives tapedeck and ffmpeg the same settings', { timeout: 1_000 }, () => {
    for (const [kind, inputs, width, height] of [
      ['composite', 4, 360, 640],
      ['host', 1, 640, 360],
      ['audio', 1, 640, 360],
    ] as const) {
      const { recording, ffmpeg } = benchSpecs(kind, 'noise', dirs, 40);
      const p = recording.profile;
      assert.equal(recording.kind, kind);
      assert.equal(recording.inputs.length, inputs);
      assert.ok(
        recording.inputs.every(
          (i) => i.source.type === 'synthetic' && i.source.pattern === 'noise' && i.cameraOn,
        ),
      );
      assert.deepEqual(
        { w: p.video.width, h: p.video.height, fps: p.video.fps, kbps: p.video.bitrateKbps },
        { w: width, h: height, fps: 15, kbps: 5000 },
      );
      assert.equal(p.video.gopSeconds, 1 / 3);
      assert.equal(p.audio.bitrateKbps, 44);
      assert.equal(p.audio.channels, 1);
      assert.equal(p.snippetSeconds, 15);
      assert.equal(recording.outDir, '/tmp/t');
      assert.deepEqual(ffmpeg, {
        kind,
        inputs,
        durationSec: 100,
        outDir: '/tmp/f',
        canvas: { width, height },
        fps: 15,
        gopFrames: 5,
        videoKbps: 5000,
        preset: 'superfast',
        audioKbps: 44,
        audioChannels: 1,
        snippetSec: 15,
      });
    }
  });
});

describe('targets', { timeout: 5_000 }, () => {
  it('are composite CPU and memory, host CPU, and the two ratios', { timeout: 1_000 }, () => {
    assert.deepEqual(
      targetsFor('composite').map((t) => [t.metric, t.limit]),
      [
        ['cpu', 0.2],
        ['rss', 150],
        ['cpu-vs-gst-launch', 1.15],
        ['cpu-vs-ffmpeg', 1],
      ],
    );
    assert.deepEqual(
      targetsFor('host').map((t) => [t.metric, t.limit]),
      [
        ['cpu', 0.09],
        ['cpu-vs-gst-launch', 1.15],
        ['cpu-vs-ffmpeg', 1],
      ],
    );
    assert.deepEqual(
      targetsFor('audio').map((t) => t.metric),
      ['cpu-vs-gst-launch', 'cpu-vs-ffmpeg'],
    );
  });

  it('are met on their limits, except "below ffmpeg"', { timeout: 1_000 }, () => {
    const rows = [
      row('composite', 'tapedeck', 0.2, 150),
      row('composite', 'gst-launch', 0.2 / 1.15, 40),
      row('composite', 'ffmpeg', 0.2, 80),
    ];
    const results = evaluateTargets('composite', rows);
    assert.deepEqual(
      results.map((r) => r.status),
      ['met', 'met', 'met', 'missed'],
    );
    assert.ok(Math.abs(results[2]!.value! - 1.15) < 1e-9);
    assert.equal(results[3]!.value, 1);
  });

  it('are missed above their limits and n/a when a contender failed', { timeout: 1_000 }, () => {
    const rows = [
      row('host', 'tapedeck', 0.1, 200),
      row('host', 'gst-launch', 0.05, 40, { ok: false, snippets: 0 }),
      row('host', 'ffmpeg', 0.2, 80),
    ];
    assert.deepEqual(
      evaluateTargets('host', rows).map((r) => [r.status, r.value]),
      [
        ['missed', 0.1],
        ['n/a', undefined],
        ['met', 0.5],
      ],
    );
    const failed = [row('host', 'tapedeck', 0.01, 10, { ok: false })];
    assert.ok(evaluateTargets('host', failed).every((r) => r.status === 'n/a'));
  });

  it('format as an aligned block', { timeout: 1_000 }, () => {
    const rows = [
      row('composite', 'tapedeck', 0.183, 121.04),
      row('composite', 'gst-launch', 0.17, 40),
      row('composite', 'ffmpeg', 0.25, 80),
    ];
    assert.equal(
      formatTargets(evaluateTargets('composite', rows)),
      [
        'targets (reported, not enforced):',
        '  tapedeck CPU <= 20 % of a core     18.3 %    met',
        '  tapedeck peak RSS <= 150 MiB      121.0 MiB  met',
        '  tapedeck/gst-launch CPU <= 1.15x   1.08 x    met',
        '  tapedeck CPU below ffmpeg          0.73 x    met',
        '',
      ].join('\n'),
    );
  });
});

describe('report and JSON', { timeout: 5_000 }, () => {
  const rows = [
    row('audio', 'tapedeck', 0.05, 100.04),
    row('audio', 'gst-launch', 0.04, 16),
    row('audio', 'ffmpeg', 0.001, 0, {
      ok: false,
      snippets: 0,
      snippetSeconds: [],
      problem: 'no .mp3 snippet',
      steadyCpuShareOfCore: Number.NaN,
    }),
  ];

  it('labels failed rows FAILED in the table', { timeout: 1_000 }, () => {
    assert.equal(rowLabel(rows[0]!), 'tapedeck');
    assert.equal(rowLabel(rows[2]!), 'ffmpeg FAILED');
    const text = formatKindReport('audio', rows, 40);
    assert.match(text, /^== audio \(1 input, 40 s each\) ==$/m);
    assert.match(text, /^tapedeck +40\.0 +5\.0 +2\.00 +100\.0$/m);
    assert.match(text, /^ffmpeg FAILED +40\.0/m);
    assert.match(text, /^tapedeck vs gst-launch +1\.25x +6\.25x$/m);
    assert.match(text, /^ {2}ffmpeg +0 — no \.mp3 snippet$/m);
    assert.match(text, /^ {2}tapedeck +3 \(15\.00, 15\.00, 10\.00 s\)$/m);
    assert.match(text, /without the first 10 s: tapedeck 4\.5 %, gst-launch 3\.6 %, ffmpeg n\/a/);
    assert.match(text, /tapedeck CPU below ffmpeg +- +n\/a$/m);
  });

  it('still reports a kind whose tapedeck row failed', { timeout: 1_000 }, () => {
    const failed = [row('host', 'tapedeck', 0, 0, { ok: false }), row('host', 'ffmpeg', 0.1, 50)];
    assert.match(formatKindReport('host', failed, 40), /^tapedeck FAILED/m);
  });

  it(
    'shapes rows and targets, rounding numbers and turning NaN into null',
    { timeout: 1_000 },
    () => {
      const json: BenchJson = JSON.parse(
        JSON.stringify(toBenchJson(rows, { durationSec: 40, pattern: 'bars' })),
      );
      assert.equal(json.ok, false);
      assert.equal(json.durationSec, 40);
      assert.equal(json.pattern, 'bars');
      assert.equal(json.rounds, 1);
      assert.deepEqual(json.rows[0], {
        kind: 'audio',
        contender: 'tapedeck',
        round: 1,
        ok: true,
        wallSec: 40,
        cpuSec: 2,
        cpuShareOfCore: 0.05,
        steadyCpuShareOfCore: 0.045,
        otherCpuShareOfCore: 0.02,
        peakRssMiB: 100,
        snippets: 3,
        snippetSeconds: [15, 15, 10],
      });
      assert.equal(json.rows[2]!.problem, 'no .mp3 snippet');
      assert.equal(json.rows[2]!.steadyCpuShareOfCore, null);
      assert.deepEqual(
        json.targets.map((t) => [t.kind, t.metric, t.status, t.value]),
        [
          ['audio', 'cpu-vs-gst-launch', 'missed', 1.25],
          ['audio', 'cpu-vs-ffmpeg', 'n/a', null],
        ],
      );
      const snippetNaN = toBenchJson([row('host', 'tapedeck', 0.1, 1, { snippetSeconds: [NaN] })], {
        durationSec: 5,
        pattern: 'noise',
      });
      assert.deepEqual(snippetNaN.rows[0]!.snippetSeconds, [null]);
      assert.equal(snippetNaN.ok, true);
    },
  );

  it('warns when other processes competed for the cores', { timeout: 1_000 }, () => {
    assert.equal(
      formatOtherLoad(rows),
      'other processes meanwhile, % of a core: tapedeck 2.0, gst-launch 2.0, ffmpeg 2.0\n',
    );
    const busy = formatOtherLoad([
      row('host', 'tapedeck', 0.1, 1),
      row('host', 'ffmpeg', 0.1, 1, { otherCpuShareOfCore: 0.35 }),
      row('host', 'gst-launch', 0.1, 1, { otherCpuShareOfCore: Number.NaN }),
    ]);
    assert.match(busy, /tapedeck 2\.0, ffmpeg 35\.0, gst-launch n\/a\n {2}WARNING: other work/);
  });

  it(
    'leaves a quarter of the run, at most 10 s, out of the steady figure',
    { timeout: 1_000 },
    () => {
      assert.equal(warmupSec(40), 10);
      assert.equal(warmupSec(100), 10);
      assert.equal(warmupSec(6), 1.5);
    },
  );
});

describe('parseCpuBusyTicks', { timeout: 5_000 }, () => {
  it('adds the busy fields of the aggregate cpu line', { timeout: 1_000 }, () => {
    const text = [
      'cpu  100 5 50 9000 40 3 7 2 11 0',
      'cpu0 50 2 25 4500 20 1 3 1 5 0',
      'intr 123',
    ].join('\n');
    // user + nice + system + irq + softirq + steal; idle, iowait and guest (in user) left out.
    assert.equal(parseCpuBusyTicks(text), 100 + 5 + 50 + 3 + 7 + 2);
    assert.throws(() => parseCpuBusyTicks('intr 1'), /no aggregate/);
  });
});

describe('tapedeck bench media (live, through the CLI)', { timeout: 180_000 }, () => {
  it(
    'measures three contenders for kinds=audio, two rounds alternated',
    { timeout: 170_000 },
    async () => {
      const child = spawn(
        TAPEDECK,
        ['bench', 'media', '--kinds', 'audio', '--duration', '4', '--rounds', '2', '--json'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 150_000,
          killSignal: 'SIGINT',
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      const last = stdout.trimEnd().split('\n').pop() ?? '';
      const json = JSON.parse(last) as BenchJson;
      assert.equal(json.ok, true);
      assert.equal(json.rounds, 2);
      assert.deepEqual(
        json.rows.map((r) => [r.round, r.contender]),
        [
          [1, 'tapedeck'],
          [1, 'gst-launch'],
          [1, 'ffmpeg'],
          [2, 'gst-launch'],
          [2, 'ffmpeg'],
          [2, 'tapedeck'],
        ],
      );
      for (const r of json.rows) {
        assert.ok(r.cpuShareOfCore > 0, `${r.contender} CPU ${r.cpuShareOfCore}`);
        assert.ok(r.peakRssMiB > 0, `${r.contender} RSS ${r.peakRssMiB}`);
        assert.ok(r.snippets >= 1, `${r.contender} snippets ${r.snippets}`);
        assert.ok(r.wallSec >= 3.5 && r.wallSec < 8, `${r.contender} wall ${r.wallSec}`);
      }
      assert.match(stdout, /median of 2 rounds/);
      assert.match(stdout, /^CPU % of core per round/m);
      assert.match(stdout, /^tapedeck vs gst-launch /m);
      assert.match(stdout, /^tapedeck vs ffmpeg /m);
      assert.match(stderr, /audio round 2: ffmpeg done/);
    },
  );
});
