import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  clockTicksPerSecond,
  parseProcStat,
  parseStatusVmRssKiB,
  watchProcessTree,
} from '../../src/bench/process-usage.ts';

const PLAIN =
  '14955 (cat) R 14953 14953 13862 0 -1 4194304 96 0 0 0 7 3 11 5 20 0 1 0 72135 3133440 353 ' +
  '18446744073709551615 94341983330304 94341983350185 140726626657136 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0';

describe('parseProcStat', { timeout: 5_000 }, () => {
  it('reads pid, comm, state, ppid, pgrp, times and starttime', { timeout: 1_000 }, () => {
    assert.deepEqual(parseProcStat(PLAIN), {
      pid: 14955,
      comm: 'cat',
      state: 'R',
      ppid: 14953,
      pgrp: 14953,
      utime: 7,
      stime: 3,
      cutime: 11,
      cstime: 5,
      starttime: 72135,
    });
  });

  it('handles a comm with spaces and parentheses', { timeout: 1_000 }, () => {
    const line =
      '4242 (my (weird) ) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 1234 56 78 9 20 0 3 0 ' +
      '987654 123456789 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';
    const stat = parseProcStat(line);
    assert.equal(stat.pid, 4242);
    assert.equal(stat.comm, 'my (weird) ) name');
    assert.equal(stat.state, 'S');
    assert.equal(stat.ppid, 1);
    assert.equal(stat.pgrp, 4242);
    assert.equal(stat.utime, 1234);
    assert.equal(stat.stime, 56);
    assert.equal(stat.cutime, 78);
    assert.equal(stat.cstime, 9);
    assert.equal(stat.starttime, 987654);
  });

  it('rejects garbage', { timeout: 1_000 }, () => {
    assert.throws(() => parseProcStat('not a stat line'));
    assert.throws(() => parseProcStat('12 (short) R 1 2'));
  });
});

describe('parseStatusVmRssKiB', { timeout: 5_000 }, () => {
  it('reads VmRSS in kB', { timeout: 1_000 }, () => {
    const status = [
      'Name:\tgst-launch-1.0',
      'State:\tS (sleeping)',
      'VmPeak:\t  900000 kB',
      'VmHWM:\t   60000 kB',
      'VmRSS:\t   52344 kB',
      'RssAnon:\t   40000 kB',
      'Threads:\t12',
      '',
    ].join('\n');
    assert.equal(parseStatusVmRssKiB(status), 52344);
  });

  it('returns 0 without a VmRSS line (zombie, kernel thread)', { timeout: 1_000 }, () => {
    assert.equal(parseStatusVmRssKiB('Name:\tdefunct\nState:\tZ (zombie)\nThreads:\t1\n'), 0);
  });
});

/**
 * Node code that spins until the process has used `seconds` of CPU: a fixed amount of CPU time
 * rather than of work, so what the watcher must see does not depend on the machine's speed.
 */
function burn(seconds: number, o: { children?: boolean } = {}): string {
  const child = o.children
    ? "if (++n % 50 === 0) require('node:child_process').spawnSync('true');"
    : '';
  return (
    `let n = 0; const t = process.cpuUsage();` +
    `while (process.cpuUsage(t).user + process.cpuUsage(t).system < ${seconds * 1e6}) { ${child} }`
  );
}

describe('watchProcessTree (live)', { timeout: 20_000 }, () => {
  it('clock tick is positive', { timeout: 5_000 }, () => {
    assert.ok(clockTicksPerSecond() > 0);
  });

  it(
    'measures a child that burns 0.8 s of CPU (and its reaped children)',
    { timeout: 15_000 },
    async () => {
      // Burns until its own CPU time reaches 0.8 s, however fast the machine is, running a
      // short-lived child now and then whose time is only visible through cutime/cstime once
      // reaped.
      const busy = spawn(process.execPath, ['-e', burn(0.8, { children: true })], {
        stdio: 'ignore',
      });
      assert.ok(busy.pid);
      const exited = new Promise((resolve) => busy.once('exit', resolve));
      const watcher = watchProcessTree(busy.pid, { intervalMs: 100 });
      await exited;
      const usage = await watcher.stop();
      assert.ok(usage.wallSec >= 0.5, `wallSec ${usage.wallSec}`);
      assert.ok(usage.cpuSec > 0.5, `cpuSec ${usage.cpuSec}`);
      assert.ok(usage.peakRssMiB > 0, `peakRssMiB ${usage.peakRssMiB}`);
      // single-threaded: at most about one core
      assert.ok(usage.cpuShareOfCore > 0 && usage.cpuShareOfCore < 1.2, `${usage.cpuShareOfCore}`);
      assert.ok(Math.abs(usage.cpuShareOfCore - usage.cpuSec / usage.wallSec) < 1e-9);
    },
  );

  it('sinceNow leaves out the CPU used before the watch', { timeout: 15_000 }, async () => {
    // Burns CPU, says so, then idles: a watch started after the line sees (almost) nothing.
    const script = `${burn(0.4)}; console.log('burnt'); setTimeout(() => undefined, 1000);`;
    const busy = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    assert.ok(busy.pid);
    const exited = new Promise((resolve) => busy.once('exit', resolve));
    await new Promise<void>((resolve) => busy.stdout!.once('data', () => resolve()));
    const whole = watchProcessTree(busy.pid, { intervalMs: 100 });
    const since = watchProcessTree(busy.pid, { intervalMs: 100, sinceNow: true });
    await new Promise((r) => setTimeout(r, 300));
    const [w, s] = await Promise.all([whole.stop(), since.stop()]);
    await exited;
    assert.ok(w.cpuSec > 0.2, `whole lifetime ${w.cpuSec}`);
    assert.ok(s.cpuSec >= 0 && s.cpuSec < 0.1, `since the watch ${s.cpuSec}`);
  });
});
