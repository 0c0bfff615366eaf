import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { SystemResult } from '../../src/bench/system/system-report.ts';
import { privateNetworkOnly } from '../support/netns.ts';
import { lastJsonLine, tapedeck, tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const skip = privateNetworkOnly();
if (skip) console.log(`skipping the system benchmark: ${skip}`);

test(
  'bench system measures a whole node recording a 4-host livestream, then ffmpeg on the same hosts',
  { timeout: 420_000, skip },
  async () => {
    const data = await tempDir('bench-system');
    dirs.push(data);
    const r = await tapedeck(
      [
        'bench',
        'system',
        '--livestreams',
        '1',
        '--no-search',
        '--duration',
        '35',
        '--warmup',
        '5',
        '--data',
        data,
        '--json',
      ],
      { timeoutMs: 400_000 },
    );
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const result = lastJsonLine<SystemResult>(r.stdout);
    assert.equal(result.rounds.length, 1);
    const round = result.rounds[0]!;
    // Whether the round held depends on the machine; what it measured does not.
    assert.equal(round.recordings, 5, JSON.stringify(round.problems));
    assert.deepEqual(
      Object.keys(round.realTimeFactor.each)
        .map((k) => k.split('/')[1])
        .sort(),
      ['composite', 'host-h1', 'host-h2', 'host-h3', 'host-h4'],
    );
    assert.ok(round.snippets.delivered >= 5 * 2, JSON.stringify(round.snippets));
    assert.ok(round.expectedFrames > 0);
    assert.ok(round.latencySec.n === round.snippets.delivered);
    const roles = new Map(round.byRole.map((x) => [x.role, x.processes]));
    assert.equal(roles.get('node'), 1);
    assert.equal(roles.get('Temporal server'), 1);
    assert.ok((roles.get('Temporal worker') ?? 0) >= 1, JSON.stringify(round.byRole));
    // One per recording, and the idle spares the workers keep warm.
    assert.ok((roles.get('media worker') ?? 0) >= 5, JSON.stringify(round.byRole));
    assert.equal(result.largestLivestreams, round.holds ? 1 : 0);
    // The snippets the round counted are the ones in the store.
    let stored = 0;
    for (const ls of await readdir(join(data, 'store')))
      for (const track of await readdir(join(data, 'store', ls)))
        for (const variant of await readdir(join(data, 'store', ls, track)))
          if (track !== 'reviews')
            stored += (await readdir(join(data, 'store', ls, track, variant))).filter(
              (n) => !n.startsWith('.'),
            ).length;
    assert.equal(stored, round.snippets.delivered);

    const ffmpeg = result.ffmpeg!;
    assert.equal(ffmpeg.recorders, 5);
    // Whether it kept real time depends on the machine; that every recorder ran does not.
    assert.deepEqual(
      ffmpeg.problems.filter((p) => /exited early/.test(p)),
      [],
    );
    assert.equal(ffmpeg.holds, ffmpeg.problems.length === 0);
    assert.ok(ffmpeg.ingest.packets > 1000, JSON.stringify(ffmpeg.ingest));
    // The recorders are judged on the window: part of what the ingest forwarded to them.
    assert.ok(
      ffmpeg.recorderRtp.forwarded > 0 && ffmpeg.recorderRtp.forwarded < 2 * ffmpeg.ingest.packets,
      JSON.stringify({ rtp: ffmpeg.recorderRtp, ingest: ffmpeg.ingest }),
    );
    assert.equal(ffmpeg.byRole.find((x) => x.role === 'ffmpeg')?.processes, 5);
    assert.ok(ffmpeg.segments >= 5 * 2, `${ffmpeg.segments} segments`);
    assert.ok(result.cpuPerLivestream!.tapedeckPct > 0);
    assert.ok(result.cpuPerLivestream!.ffmpegPct > 0);
    assert.match(r.stdout, /largest number of 4-host livestreams at real time: [01]/);
  },
);
