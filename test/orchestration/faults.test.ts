import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LivestreamSummary } from '../../src/orchestration/workflows/livestream-workflow.ts';
import { WORKER_GONE } from '../../src/orchestration/worker-report.ts';
import { decodeErrors } from '../support/ffprobe.ts';
import { privateNetworkOnly } from '../support/netns.ts';
import { recordHistoriesIfAsked } from './histories.ts';
import { busEvents, startNodeRig, storedTracks, type NodeRig } from './node-rig.ts';

/** temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT */
const TIMEOUT_TYPE_HEARTBEAT = 4;
/** temporal.api.enums.v1.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED */
const RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED = 4;

const skip = privateNetworkOnly();
if (skip) console.log(`skipping orchestration faults: ${skip}`);

/**
 * Every (track, variant) is numbered 0, 1, 2… with no number used twice, and none missing but the
 * one a takeover after a lost lease leaves out (the lost recording may have opened it unreported):
 * the number just before the first of the recording that took over.
 */
async function assertNumbering(
  rig: NodeRig,
  livestreamId: string,
  summary: LivestreamSummary,
): Promise<Map<string, string[]>> {
  const tracks = await storedTracks(rig, livestreamId);
  const out = new Map<string, string[]>();
  for (const [track, snippets] of tracks) {
    const segments = summary.recordings.find((r) => r.track === track)?.segments ?? [];
    for (const variant of ['mp4', 'mp3'] as const) {
      const seqs = snippets
        .filter((s) => s.variant === variant)
        .map((s) => s.seq)
        .sort((a, b) => a - b);
      if (seqs.length === 0) continue;
      assert.equal(
        new Set(seqs).size,
        seqs.length,
        `${track}/${variant} used a number twice: ${seqs.join(',')}`,
      );
      const skippable = new Set(
        segments
          .filter((s, i) => s.variant === variant && i > 0 && segments[i - 1]!.ended === 'lost')
          .map((s) => s.firstSeq - 1),
      );
      const missing = seqs.length
        ? Array.from({ length: seqs.at(-1)! + 1 }, (_, i) => i).filter((n) => !seqs.includes(n))
        : [];
      assert.deepEqual(
        missing.filter((n) => !skippable.has(n)),
        [],
        `${track}/${variant}: ${seqs.join(',')} (a takeover may leave out ${[...skippable].join(',') || 'none'})`,
      );
    }
    for (const s of snippets) assert.equal(await decodeErrors(s.file), '', s.key);
    out.set(
      track,
      snippets.map((s) => s.key),
    );
  }
  return out;
}

/**
 * What the recording workflows' histories say: activities timed out (leases among them: by
 * heartbeat), leases failed by the node because their worker process exited, activities
 * scheduled by name.
 */
async function activityHistory(
  rig: NodeRig,
  livestreamId: string,
): Promise<{
  timedOut: number;
  heartbeatTimeouts: number;
  workerGone: number;
  scheduled: Record<string, number>;
  /** Activities retried until their attempts ran out, as "workflow: activity (error type, attempts)". */
  exhausted: string[];
  cancelRequested: number;
}> {
  let timedOut = 0;
  let heartbeatTimeouts = 0;
  let workerGone = 0;
  let cancelRequested = 0;
  const scheduled: Record<string, number> = {};
  const exhausted: string[] = [];
  for (const w of await rig.node.livestreams.recordingWorkflows(livestreamId)) {
    const history = await rig.node.client.workflow.getHandle(w.workflowId).fetchHistory();
    const names = new Map<string, string>();
    const attempts = new Map<string, number>();
    for (const e of history.events ?? []) {
      const timeout = e.activityTaskTimedOutEventAttributes;
      if (timeout) timedOut++;
      if (timeout?.failure?.timeoutFailureInfo?.timeoutType === TIMEOUT_TYPE_HEARTBEAT)
        heartbeatTimeouts++;
      const failed = e.activityTaskFailedEventAttributes;
      if (failed?.failure?.applicationFailureInfo?.type === WORKER_GONE) workerGone++;
      const started = e.activityTaskStartedEventAttributes;
      if (started) attempts.set(String(e.eventId), started.attempt ?? 1);
      const attempt = attempts.get(String(failed?.startedEventId)) ?? 1;
      // One attempt is all some activities have (a switch in the same worker); those are not retried.
      if (failed?.retryState === RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED && attempt > 1)
        exhausted.push(
          `${w.workflowId}: ${names.get(String(failed.scheduledEventId))} (${failed.failure?.applicationFailureInfo?.type}, ${attempt} attempts)`,
        );
      if (e.activityTaskCancelRequestedEventAttributes) cancelRequested++;
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (name) {
        scheduled[name] = (scheduled[name] ?? 0) + 1;
        names.set(String(e.eventId), name);
      }
    }
  }
  return { timedOut, heartbeatTimeouts, workerGone, scheduled, exhausted, cancelRequested };
}

test(
  'a worker killed with -9: its node fails its leases and detaches its RTP copies, the other worker takes its recordings within 5 s, numbering goes on, the gaps are announced',
  { timeout: 300_000, skip },
  async () => {
    const rig = await startNodeRig('orch-kill-');
    const { livestreamId } = await rig.livestream(['h1', 'h2', 'h3', 'h4']);
    await sleep(12_000);
    const victim = rig.node.workers[0]!.pid!;
    const killedAt = Date.now();
    console.log(`killing worker ${victim} at ${new Date(killedAt).toISOString()}`);
    process.kill(victim, 'SIGKILL');
    await sleep(20_000);
    // The dead worker's RTP copies were detached: each host feeds its own recording and the
    // composite, no dead port besides.
    assert.deepEqual(
      rig.node.ingest
        .copies(livestreamId)
        .sort((a, b) => a.hostId.localeCompare(b.hostId))
        .map((c) => `${c.hostId} ${c.video}/${c.audio}`),
      ['h1 2/2', 'h2 2/2', 'h3 2/2', 'h4 2/2'],
    );
    const stoppedAt = Date.now();
    assert.equal((await rig.api('POST', `/v1/livestreams/${livestreamId}/stop`)).status, 202);
    const summary = await rig.node.livestreams.result(livestreamId);
    await recordHistoriesIfAsked(rig, livestreamId);

    // Recordings the kill cost (a lease that lapsed later, under the load of the takeover, and
    // was taken back is not one of them).
    const lost = summary.recordings.flatMap((r) =>
      r.segments
        .map((s, i) => ({ track: r.track, s, next: r.segments[i + 1] }))
        .filter((x) => x.s.ended === 'lost' && (x.s.endedAtMs ?? 0) < stoppedAt),
    );
    assert.ok(lost.length >= 1, `the killed worker held recordings: ${JSON.stringify(summary)}`);
    const takeovers = lost.map((l) => {
      assert.ok(
        l.next,
        `${l.track}: nothing took over: ${JSON.stringify(summary.recordings.find((r) => r.track === l.track))}, killed at ${killedAt}`,
      );
      return { track: l.track, ms: l.next.startedAtMs - killedAt };
    });
    for (const t of takeovers)
      assert.ok(t.ms <= 5_000, `${t.track} taken over ${t.ms} ms after the kill`);
    // Every track kept recording after the kill, in all five workflows.
    assert.equal(summary.recordings.length, 5);
    for (const r of summary.recordings)
      assert.ok(
        r.segments.some((s) => s.startedAtMs > killedAt || s.ended !== 'lost'),
        r.track,
      );

    const gaps = (await busEvents(rig)).filter((e) => e.type === 'tapedeck.recording.gap');
    for (const l of lost) {
      const g = gaps.find((e) => e.data.track === l.track);
      assert.ok(g, `${l.track}: no gap event`);
      assert.ok(
        Date.parse(g.data.from) <= killedAt + 1_000 && Date.parse(g.data.to) >= killedAt,
        JSON.stringify(g.data),
      );
    }
    await assertNumbering(rig, livestreamId, summary);
    // The node saw the exit and failed the leases: no workflow waited for a heartbeat timeout.
    const acts = await activityHistory(rig, livestreamId);
    assert.ok(acts.workerGone >= lost.length, JSON.stringify(acts));
    assert.equal(acts.heartbeatTimeouts, 0, JSON.stringify(acts));
    console.log(
      `takeover after kill -9: ${takeovers.map((t) => `${t.track} ${t.ms} ms`).join(', ')}; gaps: ${gaps.map((g) => `${g.data.track} ${g.data.durationMs} ms`).join(', ')}`,
    );
  },
);

test(
  'the Temporal server restarted mid-livestream: the workflows go on and end cleanly',
  { timeout: 300_000, skip },
  async () => {
    const rig = await startNodeRig('orch-temporal-');
    const { livestreamId } = await rig.livestream(['h1', 'h2']);
    await sleep(8_000);
    await rig.node.restartTemporal(3_000);
    await sleep(12_000);
    const off = await rig.api('POST', `/v1/livestreams/${livestreamId}/hosts/h2/events`, {
      event: 'camera-off',
    });
    assert.equal(off.status, 202);
    await sleep(6_000);
    assert.equal((await rig.api('POST', `/v1/livestreams/${livestreamId}/stop`)).status, 202);
    const summary = await rig.node.livestreams.result(livestreamId);
    await recordHistoriesIfAsked(rig, livestreamId);
    assert.equal(summary.recordings.length, 3);
    const listed = await rig.node.livestreams.recordingWorkflows(livestreamId);
    assert.ok(
      listed.every((w) => w.status === 'COMPLETED'),
      JSON.stringify(listed),
    );
    const tracks = await assertNumbering(rig, livestreamId, summary);
    // The camera change after the restart still reached the host's workflow.
    assert.ok(
      tracks.get('host-h2')!.some((k) => k.endsWith('.mp3')),
      JSON.stringify([...tracks]),
    );
    console.log(
      `after a Temporal restart: ${JSON.stringify(summary.recordings.map((r) => [r.track, r.segments.map((s) => s.ended)]))}`,
    );
  },
);

test(
  'stop while a camera switches: every recording finishes cleanly',
  { timeout: 240_000, skip },
  async () => {
    const rig = await startNodeRig('orch-stopswitch-');
    const { livestreamId } = await rig.livestream(['h1', 'h2']);
    await sleep(6_000);
    // The stop goes out as soon as the camera change is accepted: the switch to MP3 (a new media
    // process, about 2 s) is then under way. Sent together, the stop could win the race and close
    // the livestream first, and the camera change rightly got 404.
    const off = await rig.api('POST', `/v1/livestreams/${livestreamId}/hosts/h1/events`, {
      event: 'camera-off',
    });
    assert.equal(off.status, 202);
    const stop = await rig.api('POST', `/v1/livestreams/${livestreamId}/stop`);
    assert.equal(stop.status, 202);
    const summary = await rig.node.livestreams.result(livestreamId);
    await recordHistoriesIfAsked(rig, livestreamId);
    assert.equal(summary.recordings.length, 3);
    for (const r of summary.recordings)
      for (const s of r.segments)
        assert.notEqual(s.ended, 'running', `${r.track}: ${JSON.stringify(s)}`);
    await assertNumbering(rig, livestreamId, summary);
    // Nothing left behind on the node: no recording runs, the spools are empty.
    assert.deepEqual(rig.node.ingest.snapshot(livestreamId), []);
    // The node closed the ingest before the stop reached the workflows, so the switch to MP3
    // found its host gone. Its start must end at the stop, not retry until its attempts run out.
    const acts = await activityHistory(rig, livestreamId);
    assert.deepEqual(acts.exhausted, [], JSON.stringify(acts));
    // Switched only when the MP3 recording started; a start the stop overtook leaves it stopped.
    const h1 = summary.recordings.find((r) => r.track === 'host-h1')!;
    const ends = h1.segments.map((s) => `${s.variant} ${s.ended}`).join(', ');
    assert.ok(ends === 'mp4 stopped' || ends === 'mp4 switched, mp3 stopped', ends);
    console.log(`stop while switching: host-h1 ${ends}; ${JSON.stringify(acts)}`);
  },
);

test(
  'a worker paused past its leases keeps its recordings: nothing stored twice, no gap, nothing set aside',
  { timeout: 300_000, skip },
  async () => {
    const rig = await startNodeRig('orch-pause-');
    const { livestreamId } = await rig.livestream(['h1', 'h2', 'h3', 'h4']);
    await sleep(10_000);
    // Stopped, not killed: its leases time out (20 s) while its recordings run on, as when the
    // Temporal server restarts. Its node sees no exit. Another worker must not store the same
    // moments as well.
    const victim = rig.node.workers[0]!.pid!;
    process.kill(victim, 'SIGSTOP');
    try {
      // Past the 20-s timeout, and over within the reclaim's 12 s of the earliest it can fire (12 s).
      await sleep(22_000);
    } finally {
      process.kill(victim, 'SIGCONT');
    }
    await sleep(20_000);
    assert.equal((await rig.api('POST', `/v1/livestreams/${livestreamId}/stop`)).status, 202);
    const summary = await rig.node.livestreams.result(livestreamId);
    await recordHistoriesIfAsked(rig, livestreamId);

    // The pause must have cost leases and started takeovers, or this proves nothing.
    const acts = await activityHistory(rig, livestreamId);
    assert.ok(acts.heartbeatTimeouts >= 1, `no lease timed out: ${JSON.stringify(acts)}`);
    // Each lapsed lease was taken back either by the start request itself (it reached the paused
    // worker's open poll) or by reclaimRecording after a held start elsewhere; both keep the old.
    assert.equal(summary.recordings.length, 5);
    for (const r of summary.recordings)
      assert.ok(
        r.segments.every((s) => s.ended !== 'lost'),
        `${r.track} was taken over although its recording ran on: ${JSON.stringify(r.segments)}`,
      );
    const gaps = (await busEvents(rig)).filter((e) => e.type === 'tapedeck.recording.gap');
    assert.deepEqual(gaps, [], 'no gap: nothing was lost');
    await assertNumbering(rig, livestreamId, summary);
    for (const [track, snippets] of await storedTracks(rig, livestreamId))
      for (const variant of ['mp4', 'mp3'] as const) {
        const list = snippets.filter((s) => s.variant === variant);
        for (let i = 1; i < list.length; i++)
          assert.ok(
            list[i]!.startMs >= list[i - 1]!.startMs + 14_000,
            `${track}/${variant}: ${list[i - 1]!.key} and ${list[i]!.key} overlap`,
          );
      }
    const setAside = await readdir(join(rig.dir, 'worker-1', 'quarantine'), {
      recursive: true,
    }).catch(() => [] as string[]);
    assert.deepEqual(setAside, [], 'no held recording was left undecided');
    console.log(`paused worker: ${JSON.stringify(acts)}`);
  },
);
