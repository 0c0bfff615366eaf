import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { escalationWorkflowId, flagOf } from '../../src/domain/escalation-flags.ts';
import type { Review } from '../../src/domain/review.ts';
import { snippetReadyEvent } from '../../src/domain/snippet-event.ts';
import { snippetKey } from '../../src/domain/snippet-key.ts';
import { openBus } from '../../src/delivery/bus/open.ts';
import type { MessageBus } from '../../src/delivery/bus/port.ts';
import { sha256File } from '../../src/delivery/file-hash.ts';
import { openStore } from '../../src/delivery/store/open.ts';
import type { ObjectStore } from '../../src/delivery/store/port.ts';
import {
  startModeration,
  type ModerationRuntime,
  type ModerationServiceConfig,
} from '../../src/moderation/moderation-runtime.ts';
import { ModerationClient } from '../../src/moderation/service/moderation-client.ts';
import {
  startModerationService,
  type ModerationService,
} from '../../src/moderation/service/moderation-service.ts';
import { snippetScoredEvent, type SnippetScored } from '../../src/domain/snippet-scored.ts';
import { escalationStateQuery, flagSignal } from '../../src/orchestration/escalation/contracts.ts';
import type { DevServer } from '../../src/orchestration/temporal/dev-server.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';
import { startLocalTemporal } from '../../src/orchestration/temporal/local-temporal.ts';
import type { NodeWorker } from '../../src/orchestration/worker.ts';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { impairedSnippet } from '../support/impaired-media.ts';
import { tempDir } from '../support/tapedeck.ts';

const SNIPPET_MS = 15_000;
const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);

interface Rig {
  dir: string;
  dev: DevServer;
  client: Client;
  connection: NativeConnection;
  control: NodeWorker;
  store: ObjectStore;
  bus: MessageBus;
}

let rig: Rig;
let clean: string;
let black: string;
const cleanups: (() => Promise<unknown>)[] = [];

before(
  async () => {
    const dir = await tempDir('escalation-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const temporal = await startLocalTemporal(dir);
    cleanups.push(() => temporal.close());
    const { dev, client, connection, control } = temporal;
    const store = openStore(`file://${join(dir, 'store')}`);
    const bus = await openBus('embedded', { dataDir: dir });
    cleanups.push(() => bus.close());
    rig = { dir, dev, client, connection, control, store, bus };
    clean = await impairedSnippet(dir, 'none', 'none', 'mp4');
    black = await impairedSnippet(dir, 'black', 'none', 'mp4');
  },
  { timeout: 120_000 },
);

after(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
});

/** Stores snippet `seq` of a track from `file` and announces it, as the deliverer does. */
async function deliver(livestreamId: string, track: string, seq: number, file: string) {
  const startMs = T0 + seq * SNIPPET_MS;
  const start = new Date(startMs).toISOString();
  const end = new Date(startMs + SNIPPET_MS).toISOString();
  const key = snippetKey({ livestreamId, track, variant: 'mp4', startMs, seq });
  const { sha256, bytes } = await sha256File(file);
  await rig.store.putFile(key, file, {
    sha256,
    contentType: 'video/mp4',
    metadata: { start, end, seq: String(seq), track },
  });
  await rig.bus.publish(
    snippetReadyEvent({
      livestreamId,
      recordingId: `${track}-mp4`,
      track,
      hostId: track.replace(/^host-/, ''),
      variant: 'mp4',
      seq,
      start,
      end,
      durationMs: SNIPPET_MS,
      bytes,
      sha256,
      key,
      media: {
        container: 'mp4',
        video: { codec: 'h264', width: 320, height: 180, fps: 15, bitrateKbps: 5000 },
        audio: { codec: 'aac', sampleRate: 48000, channels: 1, bitrateKbps: 64 },
      },
    }),
  );
}

async function until<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function idle(livestreamId: string, track: string): Promise<void> {
  const handle = rig.client.workflow.getHandle(escalationWorkflowId(livestreamId, track));
  await until(
    'the escalation to finish',
    async () => {
      const s = await handle.query(escalationStateQuery);
      return s.pending === 0 && !s.busy ? true : null;
    },
    60_000,
  );
}

/** A moderation loop; one at a time, as they share the activity queue. */
async function moderation(
  service: ModerationServiceConfig = { builtIn: true },
  score = true,
  historyLimit?: number,
): Promise<ModerationRuntime> {
  const m = await startModeration({
    dataDir: rig.dir,
    client: rig.client,
    connection: rig.connection,
    namespace: rig.dev.namespace,
    bus: rig.bus,
    store: rig.store,
    service,
    score,
    settleMs: 3_000,
    ...(historyLimit ? { historyLimit } : {}),
  });
  cleanups.push(() => m.close());
  return m;
}

/** A low score for snippet `seq` of host-h1. */
function lowScore(livestreamId: string, seq: number): SnippetScored {
  const startMs = T0 + seq * SNIPPET_MS;
  return {
    key: snippetKey({ livestreamId, track: 'host-h1', variant: 'mp4', startMs, seq }),
    livestreamId,
    track: 'host-h1',
    seq,
    start: new Date(startMs).toISOString(),
    end: new Date(startMs + SNIPPET_MS).toISOString(),
    audio: { score: 100, reasons: [] },
    video: { score: 10, reasons: [{ impairment: 'frozen', fromSec: 1, toSec: 14 }] },
    review: true,
    reviewBelow: 60,
  };
}

/** Publishes a low score, as the scorer does. */
async function flagSnippet(livestreamId: string, seq: number): Promise<void> {
  await rig.bus.publish(snippetScoredEvent(lowScore(livestreamId, seq)));
}

test(
  'a black snippet in a host track becomes one review with a merged, playable clip from 30 s before to 30 s after it; a second low snippet overlapping it joins that review',
  { timeout: 240_000 },
  async () => {
    const m = await moderation();
    const ls = 'esc1';
    try {
      // Eight snippets (0 to 120 s); 3 and 5 are impaired. Their ranges overlap: one review.
      for (let seq = 0; seq < 8; seq++)
        await deliver(ls, 'host-h1', seq, seq === 3 || seq === 5 ? black : clean);
      // A clean track next to it: no review.
      for (let seq = 0; seq < 3; seq++) await deliver(ls, 'host-h2', seq, clean);

      await until(
        'both low scores',
        async () => (m.scorer.stats().flagged >= 2 ? true : null),
        120_000,
      );
      await until(
        'the escalation to start',
        async () => (m.trigger.stats().flagged >= 2 ? true : null),
        30_000,
      );
      await idle(ls, 'host-h1');
      await until(
        '11 snippets scored',
        async () => (m.scorer.stats().scored >= 11 ? true : null),
        60_000,
      );

      const reviews = await m.moderation.listReviews({ livestreamId: ls });
      assert.equal(reviews.length, 1, JSON.stringify(reviews, null, 1));
      const r = reviews[0] as Review;
      assert.equal(r.track, 'host-h1');
      assert.equal(r.status, 'open');
      // Flagged 45-60 s and 75-90 s; 30 s either side gives 15-120 s, in whole snippets.
      assert.deepEqual(r.range, { startMs: T0 + 15_000, endMs: T0 + 120_000 });
      assert.deepEqual(r.flagged, [
        { startMs: T0 + 45_000, endMs: T0 + 60_000 },
        { startMs: T0 + 75_000, endMs: T0 + 90_000 },
      ]);
      assert.ok(r.findings.length >= 2 && r.findings.every((f) => f.impairment === 'black'));
      assert.ok(r.lowestScore < 60);

      const file = join(rig.dir, 'clip.mp4');
      await pipeline(await rig.store.get(r.clipKey), createWriteStream(file));
      const info = await probeMedia(file);
      assert.ok(
        Math.abs(info.durationSec - 105) < 0.5,
        `clip lasts ${info.durationSec} s, not the 105 s of its range`,
      );
      assert.equal(await decodeErrors(file, { keepFrameTimes: true }), '');
      assert.match(r.clipKey, /^esc1\/reviews\/host-h1\/.*\.mp4$/);

      const audit = await m.moderation.audit(r.id);
      assert.ok(audit.some((e) => e.action === 'created' && e.actor === 'escalation'));
    } finally {
      await m.close();
    }
  },
);

test(
  'a moderation service that is down: escalation keeps trying, and the review arrives once the service is up',
  { timeout: 180_000 },
  async () => {
    const port = await freeTcpPort();
    const url = `http://127.0.0.1:${port}`;
    const token = 'escalation-token-for-the-test';
    const m = await moderation({ url, token }, false);
    let service: ModerationService | null = null;
    try {
      const ls = 'esc2';
      for (let seq = 0; seq < 7; seq++) await deliver(ls, 'host-h1', seq, clean);
      await flagSnippet(ls, 3);
      await until('the flag', async () => (m.trigger.stats().flagged >= 1 ? true : null), 30_000);
      const handle = rig.client.workflow.getHandle(escalationWorkflowId(ls, 'host-h1'));
      // The clip is cut, then creating the review fails for a while: the workflow stays at it.
      await new Promise((r) => setTimeout(r, 8_000));
      const state = await handle.query(escalationStateQuery);
      assert.equal(state.busy, true);
      assert.equal(state.reviewsMade, 0);

      service = await startModerationService({
        dataDir: join(rig.dir, 'service-later'),
        store: rig.store,
        tokens: { services: { escalation: token } },
        port,
      });
      const client = new ModerationClient({ url, token });
      const reviews = await until(
        'the review',
        async () => {
          const list = await client.listReviews({ livestreamId: ls });
          return list.length ? list : null;
        },
        90_000,
      );
      assert.equal(reviews.length, 1);
      assert.deepEqual(reviews[0]!.range, { startMs: T0 + 15_000, endMs: T0 + 90_000 });
      assert.ok(await rig.store.head(reviews[0]!.clipKey), 'the clip is stored');
      await idle(ls, 'host-h1');
      assert.equal((await client.listReviews({ livestreamId: ls })).length, 1);
    } finally {
      await m.close();
      await service?.close();
    }
  },
);

test(
  'an escalation that goes on as new runs (Continue-As-New) with flags waiting makes each review once, and a flag sent again after it makes none',
  { timeout: 180_000 },
  async () => {
    // The lowest history limit a node accepts: a new run after every batch of flags.
    const m = await moderation({ builtIn: true }, false, 8);
    const ls = 'esc3';
    try {
      for (let seq = 0; seq < 21; seq++) await deliver(ls, 'host-h1', seq, clean);
      const handle = rig.client.workflow.getHandle(escalationWorkflowId(ls, 'host-h1'));
      await flagSnippet(ls, 3);
      // Two more while the first is being cut: they wait in the run that then goes on as new.
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const s = await handle.query(escalationStateQuery).catch(() => null);
        if (s?.busy) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await flagSnippet(ls, 10);
      await flagSnippet(ls, 17);
      await until(
        'three flags',
        async () => (m.trigger.stats().flagged >= 3 ? true : null),
        30_000,
      );
      await idle(ls, 'host-h1');
      const ranges = async () =>
        (await m.moderation.listReviews({ livestreamId: ls }))
          .map((r) => [(r.range.startMs - T0) / SNIPPET_MS, (r.range.endMs - T0) / SNIPPET_MS])
          .sort((a, b) => a[0]! - b[0]!);
      // 30 s either side of each flagged snippet, in whole snippets; three apart, so three reviews.
      const expected = [
        [1, 6],
        [8, 13],
        [15, 20],
      ];
      assert.deepEqual(await ranges(), expected);
      assert.equal((await handle.query(escalationStateQuery)).reviewsMade, 3);

      // The first flag again (the bus drops a repeated event by its id; a redelivery after an
      // acknowledgement was lost is signalled like this): a later run has it among those seen.
      await handle.signal(flagSignal, flagOf(lowScore(ls, 3)));
      // A query may be answered before the signal's task runs: give a wrong review time to start.
      await new Promise((r) => setTimeout(r, 3_000));
      await idle(ls, 'host-h1');
      assert.deepEqual(await ranges(), expected);
      assert.equal((await handle.query(escalationStateQuery)).reviewsMade, 3);

      let continued = 0;
      for await (const _ of rig.client.workflow.list({
        query: `WorkflowId = "${escalationWorkflowId(ls, 'host-h1')}" AND ExecutionStatus = "ContinuedAsNew"`,
      }))
        continued += 1;
      assert.ok(continued >= 2, `${continued} runs went on as new`);
      console.log(`escalation runs continued as new: ${continued}`);
    } finally {
      await m.close();
    }
  },
);
