/**
 * One round of `tapedeck bench system`: K livestreams of synthetic WHIP hosts on a whole node
 * (ingest, Temporal workflows, media workers, delivery to the store and bus, scoring), measured
 * over a window once every recording runs, then stopped and judged from what was delivered.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEvent } from '../../domain/cloudevent.ts';
import { HOST_EVENT_PREFIX, type HostEventData } from '../../domain/host-event.ts';
import { REVIEWS_FOLDER } from '../../domain/escalation.ts';
import type { OutputProfile } from '../../domain/profile.ts';
import { SNIPPET_READY, type SnippetReady } from '../../domain/snippet-event.ts';
import { inspectMp4 } from '../../delivery/check/mp4.ts';
import { waitForModeration } from '../../moderation/settle.ts';
import type { RunningNode } from '../../node/node.ts';
import { LoadPublisher, type LoadOptions } from './load-publisher.ts';
import { LoopDelayWatch, type LoopDelay } from './loop-delay.ts';
import { watchSoundLate } from './sound-late-watch.ts';
import { watchProcessTable, type ProcessRow } from './process-table.ts';
import {
  hostDropProblems,
  ingestLossProblems,
  realTimeProblems,
  reviewLine,
  reviewProblems,
  utcClock,
  type HostArrivals,
  type HostDrop,
  recordingFigures,
  type FigureRules,
  type RecordingFigures,
  type SeenSnippet,
} from './recording-figures.ts';

export interface TapedeckRoundOptions {
  node: RunningNode;
  /** Distinguishes this round's livestreams from earlier ones on the same node. */
  round: number;
  livestreams: number;
  hosts: number;
  warmupSec: number;
  windowSec: number;
  composite: OutputProfile;
  load: LoadOptions;
  lateAfterSec: number;
  progress: (line: string) => void;
}

export interface TapedeckRound {
  livestreams: number;
  recordings: RecordingFigures[];
  rows: ProcessRow[];
  problems: string[];
  holds: boolean;
  snippets: { expected: number; delivered: number; late: number };
  droppedFrames: number;
  expectedFrames: number;
  /** Seconds from each snippet's end to its announcement, over the whole round. */
  latenciesSec: number[];
  /** Reviews the moderation loop opened: a round's content should need none. */
  reviews: number;
  /** RTP that reached the ingest and that never did, per host, from publish to the window's end. */
  arrivals: HostArrivals[];
  /** The node's event loop, which forwards the hosts' RTP, from publish to the window's end. */
  loopDelay: LoopDelay;
}

interface Announced {
  snippets: { data: SnippetReady; announcedMs: number }[];
  drops: HostDrop[];
}

/** The node's announcements for the given livestreams: their snippets once each, and hosts lost. */
async function announced(node: RunningNode, ids: ReadonlySet<string>): Promise<Announced> {
  const text = await readFile(join(node.dataDir, 'bus', 'events.log'), 'utf8');
  const byId = new Map<string, { data: SnippetReady; announcedMs: number }>();
  const drops: HostDrop[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let event;
    try {
      event = decodeEvent(line);
    } catch {
      continue;
    }
    if (event.type === `${HOST_EVENT_PREFIX}dropped`) {
      const d = event.data as HostEventData;
      if (ids.has(d.livestreamId))
        drops.push({
          livestreamId: d.livestreamId,
          hostId: d.hostId,
          atMs: Date.parse(d.at),
          ...(d.detail ? { detail: d.detail } : {}),
        });
      continue;
    }
    if (event.type !== SNIPPET_READY || byId.has(event.id)) continue;
    const data = event.data as SnippetReady;
    if (!ids.has(data.livestreamId)) continue;
    byId.set(event.id, { data, announcedMs: Date.parse(event.time ?? '') });
  }
  return { snippets: [...byId.values()], drops };
}

async function videoFrames(node: RunningNode, s: SnippetReady): Promise<number | null> {
  if (s.variant !== 'mp4') return null;
  const m = await inspectMp4(join(node.dataDir, 'store', s.key));
  return m.tracks.find((t) => t.handler === 'vide')?.samples ?? null;
}

export async function runTapedeckRound(o: TapedeckRoundOptions): Promise<TapedeckRound> {
  const tag = Date.now().toString(36).slice(-5);
  const ids = Array.from({ length: o.livestreams }, (_, i) => `sys-${o.round}-${i + 1}-${tag}`);
  const hostIds = Array.from({ length: o.hosts }, (_, i) => `h${i + 1}`);
  let publisher: LoadPublisher | undefined;
  let loop: LoopDelayWatch | undefined;
  let stopLateWatch: (() => void) | undefined;
  const started: string[] = [];
  try {
    const sessions = [];
    for (const livestreamId of ids) {
      const made = (await o.node.service.create({ livestreamId, hostIds })) as {
        hosts: { whipUrl: string; token: string }[];
      };
      started.push(livestreamId);
      sessions.push(...made.hosts.map((h) => ({ url: h.whipUrl, token: h.token })));
    }
    for (const id of ids) await o.node.livestreams.compositeRecording(id, 120_000);
    loop = new LoopDelayWatch((atMs, ms) =>
      o.progress(
        `node: its event loop, which forwards the hosts' RTP, was held up ${Math.round(ms)} ms at ${utcClock(atMs)}`,
      ),
    );
    let behindSeen = 0;
    stopLateWatch = watchSoundLate(() => {
      const behind = publisher?.soundBehind() ?? [];
      for (const b of behind.slice(behindSeen))
        o.progress(
          `load publisher: its sound fell ${b.encodedMs} ms behind the clock as encoded, ${b.sentMs} ms as sent, at ${utcClock(b.atMs)}`,
        );
      behindSeen = behind.length;
      return ids.flatMap((id) =>
        o.node.ingest
          .arrivals(id)
          .map((a) => ({ who: `${a.hostId} of ${id}`, ms: a.soundLateMs.now })),
      );
    }, o.progress);
    publisher = LoadPublisher.start(sessions, o.load);
    await publisher.connected(sessions.length, 60_000);
    o.progress(
      `tapedeck: ${ids.length} livestream(s), ${sessions.length} hosts publishing; warming up ${o.warmupSec} s…`,
    );
    await new Promise((r) => setTimeout(r, o.warmupSec * 1000));
    const pub = publisher;
    const table = watchProcessTable(process.pid, () => (pub.pid ? [pub.pid] : []));
    o.progress(`tapedeck: measuring ${o.windowSec} s…`);
    await new Promise((r) => setTimeout(r, o.windowSec * 1000));
    const rows = table.stop();
    const loopDelay = loop.stop();
    loop = undefined;
    stopLateWatch();
    stopLateWatch = undefined;
    const stopAtMs = Date.now();
    const publisherProblems = publisher.problems();
    // Read before the stop: closing a livestream forgets its hosts.
    const arrivals = ids.flatMap((livestreamId) =>
      o.node.ingest.arrivals(livestreamId).map((a) => ({ livestreamId, ...a })),
    );
    o.progress('tapedeck: stopping; the last snippets are delivered and scored…');
    for (const id of started.splice(0)) await o.node.service.stop(id);
    for (const id of ids) await o.node.livestreams.result(id);
    await publisher.stop();
    publisher = undefined;

    const events = await announced(o.node, new Set(ids));
    const snippets = events.snippets;
    for (const id of ids)
      await waitForModeration({
        runtime: o.node.moderation!,
        client: o.node.client,
        livestreamId: id,
        snippets: snippets.filter((a) => a.data.livestreamId === id).length,
        timeoutMs: 300_000,
      });
    const seen: SeenSnippet[] = [];
    for (const a of snippets)
      seen.push({
        livestreamId: a.data.livestreamId,
        track: a.data.track,
        key: a.data.key,
        startMs: Date.parse(a.data.start),
        endMs: Date.parse(a.data.end),
        durationMs: a.data.durationMs,
        announcedMs: a.announcedMs,
        videoFrames: await videoFrames(o.node, a.data),
      });
    const rules: FigureRules = {
      snippetSec: o.composite.snippetSeconds,
      fps: o.composite.video.fps,
      lateAfterSec: o.lateAfterSec,
      stopAtMs,
    };
    const groups = new Map<string, SeenSnippet[]>();
    for (const s of seen) {
      const k = `${s.livestreamId}/${s.track}`;
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    const recordings = [...groups.values()]
      .map((g) => recordingFigures(g, rules))
      .sort((a, b) => `${a.livestreamId}/${a.track}`.localeCompare(`${b.livestreamId}/${b.track}`));
    let reviews = 0;
    for (const id of ids)
      for await (const obj of o.node.store.list(`${id}/${REVIEWS_FOLDER}/`)) if (obj) reviews += 1;
    for (const id of ids)
      for (const r of await o.node.moderation!.moderation.listReviews({ livestreamId: id }))
        o.progress(reviewLine(r));
    const problems = [
      ...publisherProblems,
      ...hostDropProblems(
        events.drops.filter((d) => d.atMs <= stopAtMs),
        o.livestreams * o.hosts,
      ),
      ...ingestLossProblems(arrivals),
      ...realTimeProblems(recordings, o.livestreams * (1 + o.hosts)),
      ...reviewProblems(reviews),
    ];
    const sum = (f: (r: RecordingFigures) => number) => recordings.reduce((n, r) => n + f(r), 0);
    return {
      livestreams: o.livestreams,
      recordings,
      rows,
      problems,
      holds: problems.length === 0,
      snippets: {
        expected: sum((r) => r.expected),
        delivered: sum((r) => r.delivered),
        late: sum((r) => r.late),
      },
      droppedFrames: sum((r) => r.droppedFrames),
      expectedFrames: sum((r) => r.expectedFrames),
      latenciesSec: seen.map((s) => (s.announcedMs - s.endMs) / 1000),
      reviews,
      arrivals,
      loopDelay,
    };
  } finally {
    loop?.stop();
    stopLateWatch?.();
    await publisher?.stop();
    for (const id of started) await o.node.service.stop(id).catch(() => undefined);
  }
}
