import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { recordingMediaWorkers } from '../../src/bench/soak/procs.ts';
import { HELD_UP_EVENT_TYPE, heldUpEventProblems } from '../../src/domain/held-up-event.ts';
import { privateNetworkOnly } from '../support/netns.ts';
import { busEvents, startNodeRig } from './node-rig.ts';

const skip = privateNetworkOnly();
if (skip) console.log(`skipping recorder hold-ups on a node: ${skip}`);

test(
  "a node's recorders stopped for 3 s announce it on the bus, one event per recording, for scoring",
  { timeout: 240_000, skip },
  async () => {
    const rig = await startNodeRig('orch-heldup-');
    const { livestreamId } = await rig.livestream(['h1', 'h2']);
    await sleep(8_000);
    const media = recordingMediaWorkers(rig.node.workers.map((w) => w.pid!));
    assert.equal(media.length, 3, `the composite's and two hosts' media workers: ${media}`);
    const stoppedAt = Date.now();
    for (const pid of media) process.kill(pid, 'SIGSTOP');
    try {
      await sleep(3_000);
    } finally {
      for (const pid of media) process.kill(pid, 'SIGCONT');
    }
    await sleep(5_000);
    assert.equal((await rig.api('POST', `/v1/livestreams/${livestreamId}/stop`)).status, 202);
    await rig.node.livestreams.result(livestreamId);

    const told = (await busEvents(rig)).filter((e) => e.type === HELD_UP_EVENT_TYPE);
    for (const e of told) assert.deepEqual(heldUpEventProblems(e), [], JSON.stringify(e));
    assert.deepEqual(
      [...new Set(told.map((e) => e.data.track as string))].sort(),
      ['composite', 'host-h1', 'host-h2'],
      JSON.stringify(told.map((e) => e.data)),
    );
    // Each says about how long, and its stretch, widened by its uncertainty, holds the stop's middle.
    const middle = stoppedAt + 1_500;
    for (const track of ['composite', 'host-h1', 'host-h2']) {
      const mine = told.filter((e) => e.data.track === track).map((e) => e.data);
      assert.ok(
        mine.some(
          (d) =>
            d.durationMs >= 2_000 &&
            d.durationMs <= 4_500 &&
            Date.parse(d.from) - d.withinMs <= middle &&
            middle <= Date.parse(d.to) + d.withinMs,
        ),
        `${track}: stopped from ${new Date(stoppedAt).toISOString()} for 3 s; told ${JSON.stringify(mine)}`,
      );
    }
    console.log(
      `hold-ups told: ${told.map((e) => `${e.data.track} ${e.data.durationMs} ms ± ${e.data.withinMs}`).join(', ')}`,
    );
  },
);
