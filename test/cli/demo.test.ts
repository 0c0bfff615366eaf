import assert from 'node:assert/strict';
import { access, readFile, rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { lastJsonLine, tapedeck, tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

interface DemoSummary {
  root: string;
  livestreamId: string;
  hls: string;
  store: string;
  events: string;
  tracks: Record<string, string[]>;
}

test(
  'the demo records a 4-host livestream: a composite and four host recordings',
  { timeout: 240_000 },
  async () => {
    const data = await tempDir('demo');
    dirs.push(data);
    const r = await tapedeck(['demo', '--data', data, '--duration', '20', '--json'], {
      timeoutMs: 200_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const summary = lastJsonLine<DemoSummary>(r.stdout);
    assert.ok(summary.root.startsWith(data));
    assert.deepEqual(Object.keys(summary.tracks).sort(), [
      'composite',
      'host-h1',
      'host-h2',
      'host-h3',
      'host-h4',
    ]);
    for (const [track, files] of Object.entries(summary.tracks)) {
      assert.equal(files.length, 2, `${track}: ${files.length} snippets`);
      for (const file of files) assert.equal(await decodeErrors(file), '', file);
      const video = (await probeMedia(files[0]!)).video!;
      assert.deepEqual(
        [video.width, video.height],
        track === 'composite' ? [360, 640] : [640, 360],
      );
    }
    await access(summary.hls);
    // Every snippet is in the store and announced once on the embedded bus.
    const files = Object.values(summary.tracks).flat();
    for (const file of files) assert.ok(file.startsWith(summary.store), file);
    const events = (await readFile(summary.events, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; data: { key: string } });
    const announced = events
      .filter((e) => e.type === 'tapedeck.snippet.ready')
      .map((e) => e.data.key);
    assert.equal(announced.length, files.length);
    assert.deepEqual(
      new Set(announced.map((k) => k.split('/').at(-1))),
      new Set(files.map((f) => f.split('/').at(-1))),
    );
  },
);
