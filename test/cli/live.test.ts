import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { tapedeckInBackground, type Background } from '../support/background.ts';
import { spawnTracked, stopTracked } from '../support/children.ts';
import { probeMedia } from '../support/ffprobe.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';
import { ROOT, storedSnippets, tapedeck, tempDir } from '../support/tapedeck.ts';

const PUBLISHER = join(ROOT, 'src/ingest/publisher/whip-publisher.py');
const env = { TAPEDECK_WHIP_SECRET: 'a-secret-for-the-live-cli-test' };
const dirs: string[] = [];
const children: ChildProcess[] = [];
const live: Background[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopTracked(c, 'SIGKILL')));
  await Promise.all(live.splice(0).map((b) => b.stop('SIGKILL')));
});
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test(
  'token: refuses to work without a secret, and says how to give one',
  { timeout: 60_000 },
  async () => {
    const r = await tapedeck(['token', '--livestream', 'show', '--host', 'ana'], {
      env: { ...process.env, TAPEDECK_WHIP_SECRET: '' },
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /TAPEDECK_WHIP_SECRET/);
    const bad = await tapedeck(['token', '--livestream', '../x', '--host', 'ana'], {
      env: { ...process.env, ...env },
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /livestream id/);
  },
);

test(
  'live: two GStreamer hosts publish over WHIP; composite and host snippets reach the store, host events the bus',
  { timeout: 240_000 },
  async () => {
    const out = await tempDir('live-cli');
    dirs.push(out);
    const port = await freeTcpPort();
    const server = tapedeckInBackground(
      ['live', '--livestream', 'show', '--out', out, '--listen', `127.0.0.1:${port}`],
      env,
    );
    live.push(server);
    await server.waitFor(/hosts publish to http:\/\/127\.0\.0\.1:\d+\/whip\/show\/HOST/, 90_000);
    for (const host of ['ana', 'ben']) {
      const t = await tapedeck(['token', '--livestream', 'show', '--host', host], {
        env: { ...process.env, ...env },
      });
      assert.equal(t.code, 0, t.stderr);
      const child = spawnTracked(
        '/usr/bin/python3',
        [
          PUBLISHER,
          '--url',
          `http://127.0.0.1:${port}/whip/show/${host}`,
          '--token',
          t.stdout.trim(),
          '--name',
          host,
        ],
        { stdio: ['pipe', 'ignore', 'inherit'] },
      );
      children.push(child);
    }
    await server.waitFor(/host ben joined/, 30_000);
    await server.waitFor(/host ana joined/, 30_000);
    await sleep(20_000);
    await Promise.all(children.splice(0).map((c) => stopTracked(c, 'SIGTERM')));
    await server.waitFor(/host ana left/, 15_000);
    server.child.kill('SIGTERM');
    const result = await server.done;
    live.splice(0);
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    assert.match(result.stdout, /done: 3 recordings; 0 snippets and 0 events still waiting/);

    const composite = await storedSnippets(out, 'composite', 'mp4', 'show');
    assert.ok(composite.length >= 2, `composite: ${composite.length}`);
    for (const host of ['ana', 'ben']) {
      const files = await storedSnippets(out, `host-${host}`, 'mp4', 'show');
      assert.ok(files.length >= 1, `${host}: ${files.length}`);
      const info = await probeMedia(files[0]!);
      assert.equal(info.video?.width, 640);
      assert.ok((info.video?.frames ?? 0) > 100);
    }
    const tail = await tapedeck(
      ['events', 'tail', '--out', out, '--from-start', '--count', '20', '--timeout', '5', '--json'],
      { timeoutMs: 60_000 },
    );
    const types = tail.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; subject?: string })
      .filter((e) => e.type.startsWith('tapedeck.host.'))
      .map((e) => `${e.subject}:${e.type.slice('tapedeck.host.'.length)}`);
    for (const host of ['ana', 'ben'])
      for (const change of ['joined', 'left'])
        assert.ok(
          types.includes(`show/${host}:${change}`),
          `${host} ${change} in ${types.join(', ')}`,
        );
  },
);
