import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { planClip, reviewClipKey, type StoredSnippet } from '../../domain/escalation.ts';
import type { ReviewDraft } from '../../domain/review.ts';
import type { Variant } from '../../domain/snippet-key.ts';
import type { TimeRange } from '../../domain/time-range.ts';
import { sha256File } from '../../delivery/file-hash.ts';
import type { ObjectStore } from '../../delivery/store/port.ts';
import { listSnippets } from '../../delivery/store/snippet-index.ts';
import { MergeError, mergeClip } from '../../moderation/merge-clip.ts';
import { ModerationError, type ModerationPort } from '../../moderation/review-port.ts';
import type { CutClip, CutClipRequest, EscalationActivities, OpenReviewRef } from './contracts.ts';

export interface EscalationActivityDeps {
  store: ObjectStore;
  moderation: ModerationPort;
  /** Where snippets are fetched to and merged; emptied after each clip. */
  workDir: string;
  /**
   * A track that stores no new snippet for this long has ended (or paused): the clip is made of
   * what there is. A recording stores one every 15 s.
   */
  settleMs?: number;
  pollMs?: number;
  /** Whether the livestream has ended: then no snippet is still to come and nothing is waited for. */
  livestreamOver?: (livestreamId: string) => Promise<boolean>;
  log?: (line: string) => void;
}

const MAX_SNIPPET_MS = 16_000;

/** The stored snippets of a variant around a range, with their true end from the store. */
async function storedAround(
  store: ObjectStore,
  r: CutClipRequest,
  toMs: number,
): Promise<StoredSnippet[]> {
  const out: StoredSnippet[] = [];
  for await (const ref of listSnippets(store, {
    livestreamId: r.livestreamId,
    track: r.track,
    variant: r.variant,
    fromMs: r.range.startMs,
    toMs,
    maxSnippetMs: MAX_SNIPPET_MS,
  })) {
    const info = await store.head(ref.key);
    const end = info?.metadata.end ? Date.parse(info.metadata.end) : Number.NaN;
    // S3 lists no metadata; head has it. A snippet stored without it counts as 15 s long.
    const endMs = Number.isFinite(end) ? end : ref.startMs + 15_000;
    if (endMs > r.range.startMs)
      out.push({ key: ref.key, seq: ref.seq, variant: r.variant, startMs: ref.startMs, endMs });
  }
  return out;
}

/** Whether the other variant went on past `ms`: the track switched, this one will not grow. */
async function switchedAway(store: ObjectStore, r: CutClipRequest, ms: number): Promise<boolean> {
  const other: Variant = r.variant === 'mp4' ? 'mp3' : 'mp4';
  for await (const ref of listSnippets(store, {
    livestreamId: r.livestreamId,
    track: r.track,
    variant: other,
    fromMs: ms,
    maxSnippetMs: 0,
  })) {
    if (ref.startMs >= ms - 1_000) return true;
  }
  return false;
}

function clipMetadata(covered: TimeRange, snippets: number): Record<string, string> {
  return {
    start: new Date(covered.startMs).toISOString(),
    end: new Date(covered.endMs).toISOString(),
    snippets: String(snippets),
  };
}

export function createEscalationActivities(d: EscalationActivityDeps): EscalationActivities {
  const settleMs = d.settleMs ?? 40_000;
  const pollMs = d.pollMs ?? 1_000;
  const log = (line: string) => d.log?.(line);

  /** Waits until the range's end is stored, the track switched variant, or it stopped growing. */
  async function waitForRange(r: CutClipRequest): Promise<StoredSnippet[]> {
    let known = -1;
    let grewAt = Date.now();
    for (;;) {
      const stored = await storedAround(d.store, r, r.range.endMs);
      const reach = stored.reduce((m, s) => Math.max(m, s.endMs), 0);
      if (reach >= r.range.endMs - 100) return stored;
      if (stored.length !== known) {
        known = stored.length;
        grewAt = Date.now();
      }
      if (reach > 0 && (await switchedAway(d.store, r, reach))) return stored;
      if (Date.now() - grewAt >= settleMs) return stored;
      if (await (d.livestreamOver?.(r.livestreamId) ?? false))
        return storedAround(d.store, r, r.range.endMs);
      Context.current().heartbeat({ stored: stored.length, reachMs: reach });
      await new Promise((res) => setTimeout(res, pollMs));
    }
  }

  async function cutClip(r: CutClipRequest): Promise<CutClip | null> {
    const stored = await waitForRange(r);
    const plan = planClip(r.range, stored, r.variant);
    if (!plan) return null;
    const clipKey = reviewClipKey(r.livestreamId, r.track, plan.covered, r.variant);
    const base = {
      clipKey,
      covered: plan.covered,
      holes: plan.holes,
      snippets: plan.snippets.length,
    };
    // A retry after a crash finds the clip stored already: objects appear whole or not at all.
    const existing = await d.store.head(clipKey);
    if (existing) {
      const seconds = Number(existing.metadata['duration-sec']);
      return {
        ...base,
        durationSec: Number.isFinite(seconds)
          ? seconds
          : (plan.covered.endMs - plan.covered.startMs) / 1000,
      };
    }
    const dir = await mkdtemp(join(d.workDir, 'clip-'));
    try {
      const files: string[] = [];
      for (const [i, s] of plan.snippets.entries()) {
        const file = join(dir, `${String(i).padStart(4, '0')}.${r.variant}`);
        await pipeline(await d.store.get(s.key), createWriteStream(file));
        files.push(file);
        Context.current().heartbeat({ fetched: i + 1, of: plan.snippets.length });
      }
      const out = join(dir, `clip.${r.variant}`);
      const merged = await mergeClip(files, out, r.variant).catch((err: unknown) => {
        // A snippet that cannot be merged now never will be: no retries, the workflow says so.
        if (err instanceof MergeError && err.reason !== 'timeout' && err.reason !== 'output')
          throw ApplicationFailure.create({
            message: err.message,
            type: 'MergeError',
            nonRetryable: true,
          });
        throw err;
      });
      const { sha256 } = await sha256File(out);
      await d.store.putFile(clipKey, out, {
        sha256,
        contentType: r.variant === 'mp4' ? 'video/mp4' : 'audio/mpeg',
        metadata: {
          ...clipMetadata(plan.covered, plan.snippets.length - merged.leftOut.length),
          'duration-sec': merged.durationSec.toFixed(3),
        },
      });
      log(
        `escalation: ${clipKey}: ${plan.snippets.length} snippets, ${merged.durationSec.toFixed(1)} s` +
          (plan.holes.length
            ? `, ${plan.holes.length} ${plan.holes.length === 1 ? 'hole' : 'holes'} (` +
              plan.holes.map((h) => `${((h.endMs - h.startMs) / 1000).toFixed(1)} s`).join(', ') +
              ' of the range with no snippet)'
            : '') +
          merged.leftOut
            .map((l) => `; left out ${plan.snippets[l.index]?.key ?? l.index}: ${l.why}`)
            .join(''),
      );
      return { ...base, durationSec: merged.durationSec };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The service's own error names become the failure types the workflow's retry policy reads. */
  async function call<T>(what: () => Promise<T>): Promise<T> {
    try {
      return await what();
    } catch (err) {
      if (err instanceof ModerationError && !err.retryable)
        throw ApplicationFailure.create({
          message: err.message,
          type: err.name,
          nonRetryable: true,
        });
      throw err;
    }
  }

  const ref = (r: { id: string; variant: Variant; range: TimeRange }): OpenReviewRef => ({
    id: r.id,
    variant: r.variant,
    range: r.range,
  });

  return {
    cutClip,
    createReview: (draft: ReviewDraft, key: string) =>
      call(async () => ref(await d.moderation.createReview(draft, key))),
    extendReview: (id: string, draft: ReviewDraft, key: string) =>
      call(async () => ref(await d.moderation.extendReview(id, draft, key))),
  };
}
