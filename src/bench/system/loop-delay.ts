/**
 * How late the node's own event loop ran while the hosts published. The ingest forwards every RTP
 * packet from that loop, so a loop held up by 1 s delivers 1 s of every host's sound late; each
 * recorder times sound by RTP time from the first packet, so its mixer then drops it as late.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
  /** Ticks late by more than `stallMs`: the times and lengths, in order. */
  stalls: { atMs: number; ms: number }[];
}

export const STALL_MS = 300;
const TICK_MS = 50;

export class LoopDelayWatch {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly stalls: { atMs: number; ms: number }[] = [];
  private readonly timer: NodeJS.Timeout;
  private last = performance.now();

  constructor(onStall: (atMs: number, ms: number) => void = () => undefined) {
    this.histogram.enable();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.last - TICK_MS;
      this.last = now;
      if (late < STALL_MS) return;
      const atMs = Date.now() - late;
      this.stalls.push({ atMs, ms: late });
      onStall(atMs, late);
    }, TICK_MS);
  }

  stop(): LoopDelay {
    clearInterval(this.timer);
    this.histogram.disable();
    const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
    return {
      p99Ms: ms(this.histogram.percentile(99)),
      maxMs: ms(this.histogram.max),
      stalls: [...this.stalls],
    };
  }
}
