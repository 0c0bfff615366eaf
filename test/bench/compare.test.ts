import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  formatComparison,
  measureContender,
  type ContenderResult,
} from '../../src/bench/compare.ts';

const rows: ContenderResult[] = [
  { name: 'gst-launch', wallSec: 20, cpuSec: 8, cpuShareOfCore: 0.4, peakRssMiB: 50 },
  { name: 'tapedeck', wallSec: 20, cpuSec: 12, cpuShareOfCore: 0.6, peakRssMiB: 150 },
  { name: 'ffmpeg', wallSec: 20, cpuSec: 10, cpuShareOfCore: 0.5, peakRssMiB: 75 },
];

describe('formatComparison', { timeout: 5_000 }, () => {
  it('renders the table, baseline first, and every pairwise ratio', { timeout: 1_000 }, () => {
    const text = formatComparison(rows, 'tapedeck');
    const expected = [
      'contender   wall s  CPU % of core  CPU s  peak RSS MiB',
      '----------  ------  -------------  -----  ------------',
      'tapedeck      20.0           60.0  12.00         150.0',
      'gst-launch    20.0           40.0   8.00          50.0',
      'ffmpeg        20.0           50.0  10.00          75.0',
      '',
      'ratio                     CPU  peak RSS',
      '----------------------  -----  --------',
      'tapedeck vs gst-launch  1.50x     3.00x',
      'tapedeck vs ffmpeg      1.20x     2.00x',
      'gst-launch vs tapedeck  0.67x     0.33x',
      'gst-launch vs ffmpeg    0.80x     0.67x',
      'ffmpeg vs tapedeck      0.83x     0.50x',
      'ffmpeg vs gst-launch    1.25x     1.50x',
      '',
    ].join('\n');
    assert.equal(text, expected);
  });

  it(
    'prints n/a for a zero denominator and rejects an unknown baseline',
    { timeout: 1_000 },
    () => {
      const zero: ContenderResult = {
        name: 'idle',
        wallSec: 1,
        cpuSec: 0,
        cpuShareOfCore: 0,
        peakRssMiB: 0,
      };
      const text = formatComparison([rows[0] as ContenderResult, zero], 'gst-launch');
      assert.match(text, /gst-launch vs idle\s+n\/a\s+n\/a/);
      assert.match(text, /idle vs gst-launch\s+0\.00x\s+0\.00x/);
      assert.throws(() => formatComparison(rows, 'nope'), /baseline/);
    },
  );

  it('a single row gives just the table', { timeout: 1_000 }, () => {
    const text = formatComparison([rows[1] as ContenderResult], 'tapedeck');
    assert.equal(text.split('\n').length, 4);
    assert.doesNotMatch(text, / vs /);
  });
});

describe('measureContender (live)', { timeout: 15_000 }, () => {
  it('watches a busy contender for durationSec and stops it', { timeout: 10_000 }, async () => {
    let stopped = false;
    const result = await measureContender({
      name: 'busy-sh',
      durationSec: 1,
      intervalMs: 100,
      start: async () => {
        const child = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
        const exited = new Promise((resolve) => child.once('exit', resolve));
        return {
          pid: child.pid as number,
          stop: async () => {
            child.kill('SIGKILL');
            await exited;
            stopped = true;
          },
        };
      },
    });
    assert.ok(stopped);
    assert.equal(result.name, 'busy-sh');
    assert.ok(result.wallSec >= 0.95 && result.wallSec < 3, `wallSec ${result.wallSec}`);
    // wall-time bounded, so the CPU it gets depends on the shared machine's load
    assert.ok(result.cpuSec > 0.1, `cpuSec ${result.cpuSec}`);
    assert.ok(result.peakRssMiB > 0);
  });
});
