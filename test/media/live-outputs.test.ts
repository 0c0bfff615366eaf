import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { RecordResult as RecordingSummary } from '../../src/cli/record-report.ts';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { checkHls } from '../support/hls.ts';
import { startRtmpServer } from '../support/nginx-rtmp.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';
import { lastJsonLine, tapedeck, tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test(
  'the composite goes live over RTMP (a real nginx-rtmp) and HLS while it records',
  { timeout: 180_000 },
  async () => {
    const work = await tempDir('live');
    dirs.push(work);
    const server = await startRtmpServer({ workDir: join(work, 'nginx'), stream: 'show' });
    try {
      const r = await tapedeck(
        [
          'record',
          '--inputs',
          '2',
          '--duration',
          '16',
          '--out',
          join(work, 'rec'),
          '--rtmp',
          server.url,
          '--hls',
          join(work, 'hls'),
          '--json',
        ],
        { timeoutMs: 120_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const summary = lastJsonLine<RecordingSummary>(r.stdout);
      assert.deepEqual(summary.outputFailures, []);
      assert.equal(summary.snippets.length, 2);
    } finally {
      await server.stop();
    }
    const [flv] = server.recordedFiles();
    assert.ok(flv, 'the RTMP server recorded the stream');
    const info = await probeMedia(flv);
    assert.equal(info.video!.codec, 'h264');
    assert.equal(info.video!.width, 360);
    assert.equal(info.video!.height, 640);
    assert.equal(info.audio!.codec, 'aac');
    assert.ok(info.durationSec >= 12, `RTMP received ${info.durationSec} s`);
    assert.equal(await decodeErrors(flv), '');

    const hls = await checkHls(join(work, 'hls', 'live.m3u8'));
    assert.deepEqual(hls.errors, []);
    assert.equal(hls.targetDurationSec, 2);
    assert.ok(hls.segments.length >= 5, `${hls.segments.length} segments listed`);
  },
);

test(
  'an unreachable RTMP server is reported and never stops the recording',
  { timeout: 120_000 },
  async () => {
    const work = await tempDir('rtmp-down');
    dirs.push(work);
    const port = await freeTcpPort(); // nothing listens there
    const r = await tapedeck(
      [
        'record',
        '--kind',
        'host',
        '--duration',
        '9',
        '--snippet-seconds',
        '4',
        '--out',
        work,
        '--rtmp',
        `rtmp://127.0.0.1:${port}/live/x`,
        '--json',
      ],
      { timeoutMs: 100_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: RTMP output failed: .*the recording goes on/);
    const summary = lastJsonLine<RecordingSummary>(r.stdout);
    assert.ok(summary.outputFailures.length >= 1);
    assert.equal(summary.snippets.length, 3);
    for (const s of summary.snippets) assert.equal(await decodeErrors(s.location), '');
    assert.ok(Math.abs(summary.snippets[0]!.durationSec - 4) < 0.07);
  },
);
