import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { decodeEvent, type CloudEvent } from '../../domain/cloudevent.ts';
import { GAP_EVENT_TYPE, type GapEventData } from '../../domain/gap-event.ts';
import { HOST_EVENT_PREFIX, type HostEventData } from '../../domain/host-event.ts';
import { SNIPPET_READY, type SnippetReady } from '../../domain/snippet-event.ts';
import { parseSnippetKey } from '../../domain/snippet-key.ts';
import { checkSnippet } from '../../delivery/check/snippet-check.ts';
import type { ObjectStore } from '../../delivery/store/port.ts';
import type { AnnouncedGap, ReadyEvent, StoredObject } from './track-check.ts';

/**
 * Reads every snippet object of a livestream back from the store: its bytes hashed on the way
 * and the file checked the way delivery checks a snippet (MP4 index, MP3 frames).
 */
export async function readStoredObjects(
  store: ObjectStore,
  livestreamId: string,
  scratchDir: string,
  onProgress?: (done: number) => void,
): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for await (const info of store.list(`${livestreamId}/`)) {
    let variant: 'mp4' | 'mp3';
    try {
      variant = parseSnippetKey(info.key).variant;
    } catch {
      continue; // reviews and anything else that is not a snippet
    }
    const file = join(scratchDir, `check.${variant}`);
    const hash = createHash('sha256');
    let bytes = 0;
    await pipeline(
      await store.get(info.key),
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done(null, chunk);
        },
      }),
      createWriteStream(file),
    );
    const check = await checkSnippet(file, variant);
    await rm(file, { force: true });
    out.push({
      key: info.key,
      bytes,
      sha256: hash.digest('hex'),
      playable: check.status === 'complete',
      ...(check.status === 'invalid' ? { problem: check.problem } : {}),
      ...(check.status === 'repairable' ? { problem: `cut short: ${check.problem}` } : {}),
      ...(check.status !== 'invalid' ? { durationMs: check.durationMs } : {}),
    });
    onProgress?.(out.length);
  }
  return out;
}

/** Every event the JetStream stream holds, in stream order, repeats included. */
export async function readStreamEvents(
  natsUrl: string,
  stream = 'TAPEDECK',
): Promise<CloudEvent[]> {
  const nc = await connect({ servers: natsUrl.replace(/^nats:\/\//, ''), timeout: 10_000 });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const last = info.state.last_seq;
    const events: CloudEvent[] = [];
    if (info.state.messages === 0) return events;
    const consumer = await jetstream(nc).consumers.get(stream);
    const messages = await consumer.consume();
    for await (const m of messages) {
      try {
        events.push(decodeEvent(m.data));
      } catch {
        // Not a CloudEvent: not ours to judge here.
      }
      if (m.seq >= last) break;
    }
    await messages.close();
    return events;
  } finally {
    await nc.close();
  }
}

export function readyEvents(events: readonly CloudEvent[]): ReadyEvent[] {
  return events
    .filter((e) => e.type === SNIPPET_READY)
    .map((e) => {
      const d = e.data as SnippetReady;
      return {
        id: e.id,
        key: d.key,
        sha256: d.sha256,
        bytes: d.bytes,
        startMs: Date.parse(d.start),
        endMs: Date.parse(d.end),
        recovered: d.recovered === true,
      };
    });
}

export function announcedGaps(events: readonly CloudEvent[]): AnnouncedGap[] {
  const seen = new Set<string>();
  const out: AnnouncedGap[] = [];
  for (const e of events) {
    if (e.type !== GAP_EVENT_TYPE || seen.has(e.id)) continue;
    seen.add(e.id);
    const d = e.data as GapEventData;
    out.push({
      livestreamId: d.livestreamId,
      track: d.track,
      fromMs: Date.parse(d.from),
      toMs: Date.parse(d.to),
    });
  }
  return out;
}

/**
 * How long after a host joins again its recording may take to start. A host that left and joins
 * again gets a new recording, started the way its first one was (workflow signal, media worker,
 * pipeline); the seconds that takes at the first join are before the track's first snippet and
 * never counted, so they are not counted at a later join either. Beyond this they are a loss.
 */
export const REJOIN_START_MS = 5_000;

/**
 * When each host was away, from its host events: from a drop or a leave until it resumed, or
 * joined again and its recording had time to start (or the end). Its track has nothing to record
 * then.
 */
export function hostAbsences(events: readonly CloudEvent[]): AnnouncedGap[] {
  const byHost = new Map<string, HostEventData[]>();
  const seen = new Set<string>();
  for (const e of events) {
    if (!e.type.startsWith(HOST_EVENT_PREFIX) || seen.has(e.id)) continue;
    seen.add(e.id);
    const d = e.data as HostEventData;
    const id = `${d.livestreamId}/${d.hostId}`;
    byHost.set(id, [...(byHost.get(id) ?? []), d]);
  }
  const out: AnnouncedGap[] = [];
  for (const list of byHost.values()) {
    list.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    let since: number | null = null;
    for (const d of list) {
      const at = Date.parse(d.at);
      if ((d.change === 'dropped' || d.change === 'left') && since === null) since = at;
      if ((d.change === 'joined' || d.change === 'resumed') && since !== null) {
        out.push({
          livestreamId: d.livestreamId,
          track: `host-${d.hostId}`,
          fromMs: since,
          toMs: d.change === 'joined' ? at + REJOIN_START_MS : at,
        });
        since = null;
      }
    }
    const last = list.at(-1)!;
    if (since !== null)
      out.push({
        livestreamId: last.livestreamId,
        track: `host-${last.hostId}`,
        fromMs: since,
        toMs: Number.MAX_SAFE_INTEGER,
      });
  }
  return out;
}
