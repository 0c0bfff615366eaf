import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { CloudEvent } from '../domain/cloudevent.ts';
import {
  DEFAULT_QUALITY_THRESHOLDS,
  needsReview,
  type QualityThresholds,
} from '../domain/quality-rules.ts';
import { SNIPPET_READY, snippetReadyProblems, type SnippetReady } from '../domain/snippet-event.ts';
import { snippetScoredEvent, type SnippetScored } from '../domain/snippet-scored.ts';
import type { Delivery, MessageBus, Subscription } from '../delivery/bus/port.ts';
import { NotFoundError, type ObjectStore } from '../delivery/store/port.ts';
import { MeasureError } from './measure.ts';
import { scoreSnippet } from './score-snippet.ts';
import type { HoldUpTracker } from './hold-up-tracker.ts';
import type { PresenceTracker } from './presence-tracker.ts';
import { maskOffAir } from '../domain/off-air-windows.ts';
import { offAirRanges, withHeldUp } from '../domain/presence-mask.ts';

export interface ScorerOptions {
  bus: MessageBus;
  store: ObjectStore;
  /** Where a snippet is fetched to while it is measured; emptied after each one. */
  workDir: string;
  thresholds?: QualityThresholds;
  /** The durable subscription; every scorer with the same name shares the work. */
  subscription?: string;
  /** Host changes: stretches when the track has nobody on air are left out of the scores. */
  presence?: PresenceTracker;
  /** Recorder hold-ups: the recorder's own silence and still picture are left out too. */
  heldUp?: HoldUpTracker;
  onLog?: (line: string) => void;
  onScored?: (scored: SnippetScored) => void;
}

export interface ScorerStats {
  scored: number;
  flagged: number;
  /** Events that can never be scored (invalid, object missing, not decodable): logged, acked. */
  refused: number;
  /** Failures worth another try (store or bus down): the event comes again. */
  retried: number;
}

export interface Scorer {
  stats(): ScorerStats;
  close(): Promise<void>;
}

export const DEFAULT_SCORER_SUBSCRIPTION = 'tapedeck-scorer';

/**
 * Scores every snippet announced on the bus and publishes `tapedeck.snippet.scored`. What can
 * never succeed is said once and acknowledged, so it does not come back forever; what may succeed
 * later (a store or broker that is down) is left unacknowledged and comes again.
 */
export async function startScorer(o: ScorerOptions): Promise<Scorer> {
  const thresholds = o.thresholds ?? DEFAULT_QUALITY_THRESHOLDS;
  const stats: ScorerStats = { scored: 0, flagged: 0, refused: 0, retried: 0 };
  const log = (line: string) => o.onLog?.(line);
  await mkdir(o.workDir, { recursive: true });
  let next = 0;

  const refuse = async (d: Delivery, why: string) => {
    stats.refused += 1;
    log(`scorer: not scoring ${d.event.subject ?? d.event.id}: ${why}`);
    await d.ack();
  };

  async function handle(d: Delivery): Promise<void> {
    const problems = snippetReadyProblems(d.event);
    if (problems.length) return refuse(d, `invalid event: ${problems.join('; ')}`);
    const ready = (d.event as CloudEvent<SnippetReady>).data;
    const file = join(o.workDir, `${process.pid}-${next++}.${ready.variant}`);
    try {
      await pipeline(await o.store.get(ready.key), createWriteStream(file));
      const startMs = Date.parse(ready.start);
      const changes = o.presence?.changes(ready.livestreamId) ?? null;
      // A livestream whose host changes this scorer never saw is scored as it is.
      const hostOffAir = changes
        ? offAirRanges(changes, ready.track, { startMs, endMs: Date.parse(ready.end) })
        : null;
      const offAir = withHeldUp(hostOffAir, o.heldUp?.ranges(ready.livestreamId, ready.track));
      const { audio, video } = await scoreSnippet(file, {
        hasVideo: ready.variant === 'mp4',
        thresholds,
        ...(ready.pictures ? { pictures: ready.pictures } : {}),
        adjust: (measured) =>
          offAir ? { ...measured, ...maskOffAir(measured, offAir, startMs) } : measured,
      });
      const scored: SnippetScored = {
        key: ready.key,
        livestreamId: ready.livestreamId,
        track: ready.track,
        seq: ready.seq,
        start: ready.start,
        end: ready.end,
        audio,
        video,
        review: needsReview({ audio, video }, thresholds),
        reviewBelow: thresholds.reviewBelow,
      };
      await o.bus.publish(snippetScoredEvent(scored));
      await d.ack();
      stats.scored += 1;
      if (scored.review) stats.flagged += 1;
      o.onScored?.(scored);
    } catch (err) {
      if (err instanceof NotFoundError) return refuse(d, `${ready.key} is not in the store`);
      if (err instanceof MeasureError) return refuse(d, err.message);
      stats.retried += 1;
      log(`scorer: ${ready.key} will be tried again: ${(err as Error).message}`);
      await d.nack();
    } finally {
      await rm(file, { force: true });
    }
  }

  const subscription: Subscription = await o.bus.subscribe(
    { name: o.subscription ?? DEFAULT_SCORER_SUBSCRIPTION, typePrefix: SNIPPET_READY },
    handle,
  );
  return {
    stats: () => ({ ...stats }),
    close: () => subscription.close(),
  };
}
