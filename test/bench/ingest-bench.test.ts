import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatIngestReport,
  parsePublishers,
  summarizeRound,
} from '../../src/bench/ingest-bench.ts';
import { tapedeck } from '../support/tapedeck.ts';

describe('bench ingest helpers', () => {
  it('parses --publishers', () => {
    assert.deepEqual(parsePublishers('1,4,8'), [1, 4, 8]);
    assert.deepEqual(parsePublishers(' 2 '), [2]);
    for (const bad of ['', '0', '1,,2', '1.5', 'x', '65', '4,4'])
      assert.throws(() => parsePublishers(bad), Error, bad);
  });

  it('derives per-publisher CPU and publishers per core, without the recorders', () => {
    const row = summarizeRound({
      publishers: 4,
      durationSec: 10,
      treeCpuShare: 0.5,
      recorderCpuShare: 0.3,
      joinMs: [100, 300, 200, 400],
      joinBasis: 'snippet-file',
      packets: null,
    });
    assert.ok(Math.abs(row.ingestCpuPct - 20) < 1e-9);
    assert.ok(Math.abs(row.perPublisherPct - 5) < 1e-9);
    assert.ok(Math.abs(row.publishersPerCore - 20) < 1e-9);
    assert.deepEqual(row.joinMs, { p50: 200, p99: 400, max: 400 });
    assert.equal(row.packetsPerSec, null);
  });

  it('prints a table with targets', () => {
    const row = summarizeRound({
      publishers: 2,
      durationSec: 5,
      treeCpuShare: 0.04,
      recorderCpuShare: null,
      joinMs: [250, 1500],
      joinBasis: 'forwarded-rtp',
      packets: 1000,
    });
    const text = formatIngestReport([row], { kbps: 2500, record: false });
    assert.match(text, /publishers\s+ingest CPU %/);
    assert.match(text, /^\s+2\/2\s+4\.0\s+2\.00\s+50\s+250\s+1500\s+200$/m);
    assert.match(text, /publishers\/core 50 ok, join p99 1500 ms MISSED/);
    assert.match(text, /NOT counted/);
  });
});

describe('tapedeck bench ingest', { timeout: 120_000 }, () => {
  it('measures one publisher', async () => {
    const r = await tapedeck(['bench', 'ingest', '--publishers', '1', '--duration', '3']);
    assert.equal(r.code, 0, r.stderr);
    const row = /^\s+1\/1\s+(\d+\.\d)\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(r.stdout);
    assert.ok(row, r.stdout);
    assert.ok(Number(row[1]) > 0, 'CPU figure');
    assert.ok(Number(row[2]) > 0 && Number(row[3]) < 20_000, 'join time');
    assert.ok(Number(row[4]) > 0, 'packets forwarded');
  });
});
