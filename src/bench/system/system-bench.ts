/**
 * `tapedeck bench system`: how many 4-host livestreams one node records at real time. One node
 * (embedded Temporal, file store, embedded bus, scoring on) runs for the whole benchmark; each
 * round publishes K livestreams of synthetic hosts to it, and the count goes up while a round
 * holds real time and down while it does not. Then ffmpeg records the same hosts through the
 * same ingest, for the CPU comparison.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultProfile,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
} from '../../domain/profile.ts';
import { startNode } from '../../node/node.ts';
import { runFfmpegRound } from './ffmpeg-contender.ts';
import type { LoadOptions } from './load-publisher.ts';
import { nextLivestreams } from './recording-figures.ts';
import {
  ffmpegJson,
  formatFfmpeg,
  formatRound,
  roundJson,
  systemResult,
  type FfmpegJson,
  type Repeats,
  type RoundJson,
  type SystemResult,
} from './system-report.ts';
import { runTapedeckRound } from './tapedeck-round.ts';

export const HOSTS_PER_LIVESTREAM = 4;

export interface SystemBenchOptions {
  livestreams: number;
  /** Go up or down from `livestreams` until the largest count that holds is found. */
  search: boolean;
  maxLivestreams: number;
  windowSec: number;
  warmupSec: number;
  ffmpeg: boolean;
  /** The ffmpeg round's count; by default the largest that held, or the first one asked. */
  ffmpegLivestreams?: number;
  /**
   * How many times tapedeck and ffmpeg are compared at that count: each further pair runs both
   * once more, ffmpeg first in every other pair, and the target is judged on the medians.
   */
  pairs?: number;
  load: LoadOptions;
  lateAfterSec: number;
  /** Keep the node's data here instead of a temporary folder that is removed at the end. */
  dataDir?: string;
  progress: (line: string) => void;
  /** Each block of the report as soon as it is measured. */
  report: (text: string) => void;
  /** The node decodes each host's video once (shared decoders). */
  sharedDecode?: boolean;
  /** The composites take tiles from the host recordings. */
  hostTiles?: boolean;
}

export async function runSystemBench(o: SystemBenchOptions): Promise<SystemResult> {
  const dataDir = o.dataDir ?? (await mkdtemp(join(tmpdir(), 'tapedeck-bench-system-')));
  const composite = defaultProfile(DEFAULT_COMPOSITE_CANVAS);
  const host = defaultProfile(DEFAULT_HOST_CANVAS);
  const sharing = o.sharedDecode ? ', shared decoders' : o.hostTiles ? ', host tiles' : '';
  o.progress(
    `starting a node in ${dataDir} (Temporal dev server, ingest, 2 workers, scoring${sharing})…`,
  );
  const node = await startNode({
    dataDir,
    apiPort: 0,
    whipPort: 0,
    temporalUi: false,
    moderation: { builtIn: true },
    ...(o.sharedDecode ? { sharedDecode: true } : {}),
    ...(o.hostTiles ? { hostTiles: true } : {}),
    log: (line) => {
      if (/error|fail|warn/i.test(line)) o.progress(`node: ${line}`);
    },
  });
  const rounds: RoundJson[] = [];
  let ffmpeg: FfmpegJson | null = null;
  const repeats: Repeats = { tapedeck: [], ffmpeg: [] };
  let roundNo = 0;
  const tapedeckRound = async (k: number): Promise<RoundJson> => {
    roundNo += 1;
    o.progress(`round ${roundNo}: ${k} livestream(s)`);
    const round = await runTapedeckRound({
      node,
      round: roundNo,
      livestreams: k,
      hosts: HOSTS_PER_LIVESTREAM,
      warmupSec: o.warmupSec,
      windowSec: o.windowSec,
      composite,
      load: o.load,
      lateAfterSec: o.lateAfterSec,
      progress: o.progress,
    });
    const json = roundJson(round);
    o.report(formatRound(json, round));
    return json;
  };
  const ffmpegRound = async (k: number, n: number): Promise<FfmpegJson> => {
    const f = await runFfmpegRound({
      node,
      livestreams: k,
      hosts: HOSTS_PER_LIVESTREAM,
      warmupSec: o.warmupSec,
      windowSec: o.windowSec,
      outDir: join(dataDir, n === 1 ? 'ffmpeg' : `ffmpeg-${n}`),
      composite,
      host,
      load: o.load,
      progress: o.progress,
    });
    const json = ffmpegJson(f);
    o.report(formatFfmpeg(json));
    return json;
  };
  try {
    let k: number | null = o.livestreams;
    while (k !== null) {
      rounds.push(await tapedeckRound(k));
      k = o.search ? nextLivestreams(rounds, o.maxLivestreams) : null;
    }
    if (o.ffmpeg) {
      // The comparison runs at the count that held (or the first one asked), on the same node.
      const holding = rounds.filter((r) => r.holds).map((r) => r.livestreams);
      const at = o.ffmpegLivestreams ?? (holding.length ? Math.max(...holding) : o.livestreams);
      ffmpeg = await ffmpegRound(at, 1);
      // A machine that gets busier or quieter during the run weighs on both when they alternate.
      for (let pair = 2; pair <= (o.pairs ?? 1); pair++) {
        o.progress(`comparison ${pair} of ${o.pairs}: ${at} livestream(s)`);
        if (pair % 2 === 0) {
          repeats.ffmpeg.push(await ffmpegRound(at, pair));
          repeats.tapedeck.push(await tapedeckRound(at));
        } else {
          repeats.tapedeck.push(await tapedeckRound(at));
          repeats.ffmpeg.push(await ffmpegRound(at, pair));
        }
      }
    }
  } finally {
    await node.stop();
    if (!o.dataDir) await rm(dataDir, { recursive: true, force: true });
  }
  return systemResult(rounds, ffmpeg, repeats);
}
