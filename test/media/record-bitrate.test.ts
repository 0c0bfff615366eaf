import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import type { RecordResult as RecordingSummary } from '../../src/cli/record-report.ts';
import { probeMedia } from '../support/ffprobe.ts';
import { lastJsonLine, tapedeck, tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test(
  'busy content is rate-controlled close to 5 Mbit/s and never above 5.5',
  { timeout: 180_000 },
  async () => {
    const out = await tempDir('bitrate');
    dirs.push(out);
    const r = await tapedeck(
      ['record', '--inputs', '4', '--pattern', 'noise', '--duration', '17', '--out', out, '--json'],
      {
        timeoutMs: 150_000,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const [first] = lastJsonLine<RecordingSummary>(r.stdout).snippets;
    const v = (await probeMedia(first!.location)).video!;
    assert.ok(v.bitRateKbps <= 5500, `${v.bitRateKbps} kbit/s`);
    assert.ok(v.bitRateKbps >= 4000, `busy content only reached ${v.bitRateKbps} kbit/s`);
  },
);
