import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { splitLaunchArgs } from '../../src/bench/media-bench.ts';
import {
  defaultProfile,
  DEFAULT_HOST_CANVAS,
  type OutputProfile,
} from '../../src/domain/profile.ts';
import { aacEncoder } from '../../src/media/pipeline/encoders.ts';
import { run } from '../support/run.ts';

const SECONDS = 30;
const MONO = 'audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=1';

/**
 * The recordings' AAC chain, fed as fast as it goes with a tone over quiet noise (a voice's hum
 * over a room): at 22 kbit/s a channel (stereo at 44) voaacenc crashed on this in 20 of 20 runs.
 */
function toneOverNoise(profile: OutputProfile, freq: number, out: string): string {
  const buffers = SECONDS * 100;
  const source = (wave: string) =>
    `audiotestsrc num-buffers=${buffers} samplesperbuffer=480 ${wave} ! ${MONO} ! m.`;
  return (
    `audiomixer name=m ! ${aacEncoder(profile)} ! filesink location=${out} ` +
    `${source(`wave=sine freq=${freq} volume=0.1`)} ${source('wave=pink-noise volume=0.01')}`
  );
}

test(
  'the default profile encodes a tone over quiet noise to its end, at its bitrate',
  { timeout: 120_000 },
  async (t) => {
    const profile = defaultProfile(DEFAULT_HOST_CANVAS);
    const dir = await mkdtemp(join(tmpdir(), 'aac-encoder-'));
    try {
      const rates: string[] = [];
      for (const freq of [145, 160, 205, 310, 430]) {
        const out = join(dir, `${freq}.aac`);
        // --no-fault: a crash ends the run at once instead of leaving it in gst-launch's handler.
        const r = await run(
          'gst-launch-1.0',
          ['-q', '--no-fault', ...splitLaunchArgs(toneOverNoise(profile, freq, out))],
          { timeoutMs: 60_000 },
        );
        assert.equal(r.signal, null, `${freq} Hz: the encoder died of ${r.signal}`);
        assert.equal(r.code, 0, `${freq} Hz: ${r.stderr}`);
        const kbps = ((await stat(out)).size * 8) / SECONDS / 1000;
        rates.push(`${freq} Hz ${kbps.toFixed(1)}`);
        assert.ok(
          Math.abs(kbps - profile.audio.bitrateKbps) <= 0.15 * profile.audio.bitrateKbps,
          `${freq} Hz: ${kbps.toFixed(1)} kbit/s against ${profile.audio.bitrateKbps}`,
        );
      }
      t.diagnostic(`kbit/s: ${rates.join(', ')}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
