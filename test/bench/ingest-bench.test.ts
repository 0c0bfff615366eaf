import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import {
  formatIngestReport,
  parsePublishers,
  summarizeRound,
} from '../../src/bench/ingest-bench.ts';
import { LoadPublisher } from '../../src/bench/system/load-publisher.ts';
import { issueToken } from '../../src/domain/whip-token.ts';
import { spawnTracked, stopTracked } from '../support/children.ts';
import { ROOT, tapedeck } from '../support/tapedeck.ts';

const LOAD = join(ROOT, 'src/ingest/publisher/whip-load.py');
const INGEST_NODE = join(ROOT, 'src/bench/ingest-node.ts');

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
      publishersCpuShare: 0.9,
      otherCpuShare: Number.NaN,
    });
    assert.ok(Math.abs(row.ingestCpuPct - 20) < 1e-9);
    assert.ok(Math.abs(row.perPublisherPct - 5) < 1e-9);
    assert.ok(Math.abs(row.publishersPerCore - 20) < 1e-9);
    assert.deepEqual(row.joinMs, { p50: 200, p99: 400, max: 400 });
    assert.equal(row.packetsPerSec, null);
    assert.ok(Math.abs(row.publishersCpuPct - 90) < 1e-9);
    assert.equal(row.otherCpuPct, null);
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
      publishersCpuShare: 0.5,
      otherCpuShare: 0.02,
    });
    const text = formatIngestReport([row], { kbps: 2500, record: false });
    assert.match(text, /publishers\s+ingest CPU %/);
    assert.match(text, /^\s+2\/2\s+4\.0\s+2\.00\s+50\s+250\s+1500\s+200\s+50\.0\s+2\.0$/m);
    assert.doesNotMatch(text, /WARNING/);
    assert.match(text, /publishers\/core 50 ok, join p99 1500 ms MISSED/);
    assert.match(text, /NOT counted/);
    assert.match(text, /video encoded once at 2500 kbit\/s/);
    const perProcess = formatIngestReport([row], { kbps: 1500, record: false, perProcess: true });
    assert.match(perProcess, /one GStreamer process per publisher, each encoding its own 1500/);
    const busy = formatIngestReport([{ ...row, otherCpuPct: 35 }], { kbps: 2500, record: false });
    assert.match(busy, /WARNING: other work used 35\.0 % of a core while 2 publishers/);
  });
});

/** A child's JSON lines on stdout, and a way to wait for one. */
function jsonLines(child: ChildProcess) {
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const w of waiters) w();
  });
  const waitFor = (match: (l: Record<string, unknown>) => boolean, what: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const found = lines.find(match);
        if (!found) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${what} within 30 s; stderr: ${stderr.slice(-1500)}`));
      }, 30_000);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return { lines, waitFor };
}

/**
 * The bench's ingest node for livestream "bench", and WHIP sessions to it: each host's URL and a
 * token signed with the given key (the node's secret, or another to be refused).
 */
async function startIngestNode(secret: string) {
  const node = spawnTracked(
    process.execPath,
    [...process.execArgv, INGEST_NODE, '--secret', secret, '--livestream', 'bench'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const ingest = jsonLines(node);
  const stop = async () => {
    node.stdin!.end();
    await stopTracked(node, 'SIGTERM');
  };
  let url: string;
  try {
    url = String((await ingest.waitFor((l) => l.event === 'ready', 'ready')).url);
  } catch (err) {
    await stop();
    throw err;
  }
  const session = (hostId: string, key = secret) => ({
    url: `${url}/whip/bench/${hostId}`,
    token: issueToken(key, { livestreamId: 'bench', hostId, expiresAt: Date.now() + 600_000 }),
  });
  return { ingest, session, stop };
}

describe('whip-load.py', { timeout: 120_000 }, () => {
  it('publishes every session; a refused one fails alone; SIGTERM deletes the rest', async () => {
    const { ingest, session, stop } = await startIngestNode('bench-test-secret-0123456789');
    let load: ChildProcess | undefined;
    try {
      load = spawnTracked('/usr/bin/python3', [LOAD, '--sessions', '-', '--kbps', '500'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      load.stdin!.end(
        JSON.stringify([
          session('h0'),
          session('h1', 'some-other-secret-987654321'),
          session('h2'),
        ]),
      );
      const events = jsonLines(load);
      const refused = await events.waitFor(
        (l) => l.event === 'failed' && l.index === 1,
        'failure of session 1',
      );
      assert.match(String(refused.message), /401/);
      for (const i of [0, 2])
        await events.waitFor((l) => l.event === 'connected' && l.index === i, `session ${i}`);
      for (const h of ['h0', 'h2'])
        await ingest.waitFor((l) => l.event === 'joined' && l.hostId === h, `${h} joined`);
      for (const i of [0, 2])
        assert.ok(
          events.lines.some((l) => l.event === 'answered' && l.index === i),
          `answered ${i}`,
        );

      const status = await stopTracked(load, 'SIGTERM', 15_000);
      assert.equal(status.code, 1, 'a failed session makes the exit code 1');
      const stopped = await events.waitFor((l) => l.event === 'stopped', 'stopped');
      assert.equal(stopped.failed, 1);
      for (const h of ['h0', 'h2'])
        await ingest.waitFor((l) => l.event === 'left' && l.hostId === h, `${h} left`);
    } finally {
      if (load) await stopTracked(load, 'SIGKILL');
      await stop();
    }
  });
});

describe("a system round's load publisher", { timeout: 120_000 }, () => {
  it('names failed sessions and its own end as problems of the round', async () => {
    const { session, stop } = await startIngestNode('bench-test-secret-0123456789');
    const started: LoadPublisher[] = [];
    try {
      const load = { kbps: 300, pattern: 'smpte', scroll: 4, volume: 0.1 };

      const good = LoadPublisher.start([session('h0')], load);
      started.push(good);
      await good.connected(1, 60_000);
      assert.deepEqual(good.problems(), []);
      // A crash of the publisher mid-round.
      process.kill(-good.pid!, 'SIGKILL');
      await good.stop(5_000);
      const ended = good.problems();
      assert.equal(ended.length, 1, ended.join('\n'));
      assert.match(ended[0]!, /the load publisher ended during the round/);

      const refused = LoadPublisher.start([session('h1', 'some-other-secret-987654321')], load);
      started.push(refused);
      await assert.rejects(refused.connected(1, 60_000), /publisher: .*failed/);
      assert.match(refused.problems().join('\n'), /lost 1 session\(s\); first: .*401/);
    } finally {
      for (const p of started) await p.stop(5_000);
      await stop();
    }
  });
});

describe('tapedeck bench ingest', { timeout: 120_000 }, () => {
  it('measures two publishers from one load generator', async () => {
    const r = await tapedeck(['bench', 'ingest', '--publishers', '2', '--duration', '3']);
    assert.equal(r.code, 0, r.stderr);
    const row =
      /^\s+2\/2\s+(\d+\.\d)\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+\.\d)\s+(\d+\.\d)$/m.exec(
        r.stdout,
      );
    assert.ok(row, r.stdout);
    assert.ok(Number(row[1]) > 0, 'CPU figure');
    assert.ok(Number(row[2]) > 0, 'join time');
    assert.ok(Number(row[4]) > 0, 'packets forwarded');
    assert.ok(Number(row[5]) > 0, "the load generator's CPU");
    assert.match(r.stdout, /one GStreamer process: video encoded once at 2500 kbit\/s/);
  });

  it('measures one publisher process with --per-process', async () => {
    const r = await tapedeck([
      ...['bench', 'ingest', '--per-process', '--publishers', '1', '--duration', '3'],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const row =
      /^\s+1\/1\s+(\d+\.\d)\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+\.\d)\s+(\d+\.\d)$/m.exec(
        r.stdout,
      );
    assert.ok(row, r.stdout);
    assert.ok(Number(row[1]) > 0, 'CPU figure');
    assert.ok(Number(row[4]) > 0, 'packets forwarded');
    assert.ok(Number(row[5]) > 0, "the publisher process's CPU");
    assert.match(r.stdout, /one GStreamer process per publisher/);
  });
});
