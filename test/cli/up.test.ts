import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnTracked, stopTracked } from '../support/children.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';
import { lastJsonLine, tapedeck, TAPEDECK, tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Processes whose command line names the data folder: the node's server and workers. */
function processesOf(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', dir], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() && !l.includes('pgrep'));
  } catch {
    return [];
  }
}

test(
  'tapedeck up runs a node; livestream create, status and stop drive it; Ctrl-C ends everything it started',
  { timeout: 240_000 },
  async () => {
    const data = await tempDir('up');
    dirs.push(data);
    const [port, whipPort] = [await freeTcpPort(), await freeTcpPort()];
    const up = spawnTracked(
      TAPEDECK,
      [
        'up',
        '--data',
        data,
        '--port',
        String(port),
        '--whip-port',
        String(whipPort),
        '--no-temporal-ui',
        '--max-livestreams',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    up.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    up.stderr!.resume();
    try {
      for (let i = 0; i < 240 && !out.includes('is up'); i++) await sleep(250);
      assert.match(out, /tapedeck node node1 is up/);
      assert.match(out, new RegExp(`control API +http://127\\.0\\.0\\.1:${port}`));
      const api = ['--api', `http://127.0.0.1:${port}`, '--data', data];

      const made = await tapedeck([
        'livestream',
        'create',
        '--hosts',
        '2',
        '--id',
        'show',
        '--json',
        ...api,
      ]);
      assert.equal(made.code, 0, made.stderr);
      const body = lastJsonLine<{
        livestreamId: string;
        hosts: { hostId: string; whipUrl: string; token: string }[];
      }>(made.stdout);
      assert.equal(body.livestreamId, 'show');
      assert.deepEqual(
        body.hosts.map((h) => h.whipUrl),
        [
          `http://127.0.0.1:${whipPort}/whip/show/host1`,
          `http://127.0.0.1:${whipPort}/whip/show/host2`,
        ],
      );

      let state: { recordingWorkflows: string[] } = { recordingWorkflows: [] };
      for (let i = 0; i < 80 && state.recordingWorkflows.length === 0; i++) {
        const r = await tapedeck(['livestream', 'status', 'show', '--json', ...api]);
        assert.equal(r.code, 0, r.stderr);
        state = lastJsonLine(r.stdout);
        if (state.recordingWorkflows.length === 0) await sleep(250);
      }
      assert.deepEqual(state.recordingWorkflows, ['tapedeck-livestream-show-composite']);

      // Mistakes say what is wrong, with exit code 2. A full node is one of them.
      const full = await tapedeck(['livestream', 'create', '--hosts', '1', '--id', 'more', ...api]);
      assert.equal(full.code, 2, full.stderr);
      assert.match(full.stderr, /503 .*at most 1 livestream/);
      const unknown = await tapedeck(['livestream', 'status', 'nosuch', ...api]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /404/);
      const badId = await tapedeck(['livestream', 'stop', 'a/b', ...api]);
      assert.equal(badId.code, 2);
      const noKey = await tapedeck([
        'livestream',
        'status',
        'show',
        '--api',
        `http://127.0.0.1:${port}`,
        '--data',
        `${data}/elsewhere`,
      ]);
      assert.equal(noKey.code, 2);
      assert.match(noKey.stderr, /no API key/);

      const stop = await tapedeck(['livestream', 'stop', 'show', ...api]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, /stopping/);
    } finally {
      const status = await stopTracked(up, 'SIGINT', 90_000);
      assert.equal(status.code, 0, `tapedeck up ended with ${JSON.stringify(status)}`);
    }
    // Nothing it started is left: Temporal's dev server and the workers named the data folder.
    for (let i = 0; i < 40 && processesOf(data).length > 0; i++) await sleep(250);
    assert.deepEqual(processesOf(data), []);
  },
);

test(
  'tapedeck up refuses two ways to share a picture at once, before it starts anything',
  { timeout: 60_000 },
  async () => {
    const data = await tempDir('up-both');
    dirs.push(data);
    const both = await tapedeck(['up', '--data', data, '--shared-decode', '--host-tiles']);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--shared-decode and --host-tiles .* choose one/);
    assert.deepEqual(processesOf(data), []);
    const help = await tapedeck(['up', '--help']);
    assert.match(
      help.stdout,
      /--host-tiles +each host's recording serves its picture to the composite/,
    );
  },
);
