import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import type { RecordResult as RecordingSummary } from '../../src/cli/record-report.ts';
import { spawnTracked } from '../support/children.ts';
import { decodeErrors, frameLumas, probeMedia } from '../support/ffprobe.ts';
import {
  lastJsonLine,
  spoolFiles,
  storedSnippets,
  TAPEDECK,
  tapedeck,
  tempDir,
} from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test('host recording: 640x360 MP4 snippets of 15 s', { timeout: 180_000 }, async () => {
  const out = await tempDir('host');
  dirs.push(out);
  const r = await tapedeck(
    ['record', '--kind', 'host', '--duration', '18', '--out', out, '--json'],
    { timeoutMs: 150_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const { snippets } = lastJsonLine<RecordingSummary>(r.stdout);
  assert.equal(snippets.length, 2);
  const info = await probeMedia(snippets[0]!.location);
  assert.equal(info.video!.width, 640);
  assert.equal(info.video!.height, 360);
  assert.ok(Math.abs(info.video!.durationSec - 15) <= 1 / 15 + 1e-3, `${info.video!.durationSec}`);
  assert.equal(info.audio!.codec, 'aac');
  // The camera's frames reach the mixer after the base picture's: at the stop its pad holds
  // its last frame instead of leaving the black background for the last few frames.
  const lumas = await frameLumas(snippets[1]!.location);
  assert.ok(lumas.length >= 15, `${lumas.length} frames in the last snippet`);
  const last = lumas.slice(-5);
  assert.ok(
    last.every((f) => f.yavg > 40),
    `the recording ends on the background: ${JSON.stringify(last)}`,
  );
});

test('audio recording: MP3 snippets of 15 s each', { timeout: 180_000 }, async () => {
  const out = await tempDir('audio');
  dirs.push(out);
  const r = await tapedeck(
    ['record', '--kind', 'audio', '--duration', '33', '--out', out, '--json'],
    { timeoutMs: 150_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const { snippets } = lastJsonLine<RecordingSummary>(r.stdout);
  assert.equal(snippets.length, 3);
  for (const s of snippets.slice(0, 2)) {
    assert.ok(s.location.endsWith('.mp3'));
    const info = await probeMedia(s.location);
    assert.equal(info.video, undefined);
    assert.equal(info.audio!.codec, 'mp3');
    // MP3 frames are 24 ms at 48 kHz, so a snippet ends on the frame nearest 15 s.
    assert.ok(Math.abs(info.durationSec - 15) <= 0.05, `${s.location}: ${info.durationSec} s`);
    assert.equal(await decodeErrors(s.location), '');
  }
});

test(
  'Ctrl-C ends the recording with a whole, playable last snippet',
  { timeout: 120_000 },
  async () => {
    const out = await tempDir('sigint');
    dirs.push(out);
    const child = spawnTracked(
      TAPEDECK,
      ['record', '--kind', 'host', '--duration', '600', '--out', out],
      { stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    // Wait until the recording really runs (its first file exists), then a few seconds more.
    for (let i = 0; i < 600 && (await spoolFiles(out, 'host-h1')).length === 0; i++)
      await sleep(100);
    await sleep(6000);
    process.kill(child.pid!, 'SIGINT');
    assert.equal(await exited, 0);
    const files = await storedSnippets(out, 'host-h1', 'mp4');
    assert.equal(files.length, 1);
    const info = await probeMedia(files[0]!);
    assert.ok(
      info.video!.durationSec > 4 && info.video!.durationSec < 15,
      `${info.video!.durationSec} s`,
    );
    assert.equal(await decodeErrors(files[0]!), '');
  },
);
