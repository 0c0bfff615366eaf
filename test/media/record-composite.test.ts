import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import type { RecordResult as RecordingSummary } from '../../src/cli/record-report.ts';
import { decodeErrors, largestFrameGap, probeMedia } from '../support/ffprobe.ts';
import { lastJsonLine, storedSnippets, tapedeck, tempDir } from '../support/tapedeck.ts';

const FRAME = 1 / 15;
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test(
  '46 s of a 4-host composite: three exact 15-s snippets and a playable partial one',
  { timeout: 240_000 },
  async () => {
    const out = await tempDir('composite');
    dirs.push(out);
    const r = await tapedeck(
      [
        'record',
        '--kind',
        'composite',
        '--inputs',
        '4',
        '--duration',
        '46',
        '--out',
        out,
        '--json',
      ],
      {
        timeoutMs: 200_000,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const summary = lastJsonLine<RecordingSummary>(r.stdout);
    const files = await storedSnippets(out, 'composite', 'mp4');
    assert.equal(files.length, 4, `files: ${files.join(', ')}`);
    assert.equal(summary.snippets.length, 4);
    assert.deepEqual(
      summary.snippets.map((s) => s.seq),
      [0, 1, 2, 3],
    );
    for (const [i, s] of summary.snippets.entries()) {
      const info = await probeMedia(s.location);
      const full = i < 3;
      if (full) {
        // The pipeline clock says where the cut was; the file says what a player sees.
        assert.ok(
          Math.abs(s.durationSec - 15) <= FRAME,
          `snippet ${i}: pipeline duration ${s.durationSec}`,
        );
        assert.ok(
          Math.abs(info.video!.durationSec - 15) <= FRAME + 1e-3,
          `snippet ${i}: video ${info.video!.durationSec} s`,
        );
      } else {
        assert.ok(
          info.video!.durationSec > 0.5 && info.video!.durationSec < 15,
          `partial: ${info.video!.durationSec} s`,
        );
      }
      if (i > 0) assert.equal(s.start, summary.snippets[i - 1]!.end, 'snippets are contiguous');
      const v = info.video!;
      assert.equal(v.codec, 'h264');
      assert.ok(['Main', 'High'].includes(v.profile), `profile ${v.profile}`);
      assert.equal(v.pixFmt, 'yuv420p');
      assert.equal(v.width, 360);
      assert.equal(v.height, 640);
      if (v.fps !== 15) {
        const { gapSec, afterSec } = await largestFrameGap(s.location);
        // The worker warns of frames its pipeline dropped; they say where a missing one went.
        const warnings = `${r.stdout}\n${r.stderr}`
          .split('\n')
          .filter((l) => l.includes('warning:'))
          .join('\n');
        assert.fail(
          `snippet ${i}: ${v.fps} fps, ${v.frames} frames in ${v.durationSec} s, largest gap ${gapSec} s after ${afterSec} s\n${warnings || 'no warnings'}`,
        );
      }
      assert.ok(v.bitRateKbps <= 5500, `snippet ${i}: ${v.bitRateKbps} kbit/s`);
      const a = info.audio!;
      assert.equal(a.codec, 'aac');
      if (full)
        assert.ok(
          a.bitRateKbps > 30 && a.bitRateKbps < 60,
          `snippet ${i}: audio ${a.bitRateKbps} kbit/s`,
        );
      assert.equal(await decodeErrors(s.location), '', `snippet ${i} decodes cleanly`);
    }
  },
);
