import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gridLayout } from '../../src/domain/layout.ts';
import { DEFAULT_COMPOSITE_CANVAS } from '../../src/domain/profile.ts';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { colourDistance, meanColour, PLACEHOLDER_GREY } from '../support/mean-colour.ts';
import { privateNetworkOnly } from '../support/netns.ts';
import { HELD_UP_EVENT_TYPE, heldUpEventProblems } from '../../src/domain/held-up-event.ts';
import { busEvents, startNodeRig, storedTracks } from './node-rig.ts';

const skip = privateNetworkOnly();
if (skip) console.log(`skipping the host tiles node test: ${skip}`);

test(
  "with --host-tiles the composite decodes nothing: it shows each host from the host's recording, also after the camera was off and after a worker was killed",
  { timeout: 300_000, skip },
  async () => {
    const rig = await startNodeRig('host-tiles-', { hostTiles: true });
    const { livestreamId } = await rig.livestream(['h1', 'h2']);
    await sleep(10_000);
    // One copy of a host's video leaves the ingest, to its own recording; the composite takes
    // the sound alone.
    for (const c of rig.node.ingest.copies(livestreamId)) {
      assert.equal(c.video, 1, `${c.hostId}: ${c.video} video copies`);
      assert.equal(c.audio, 2, `${c.hostId}: ${c.audio} audio copies`);
    }
    const camera = async (event: 'camera-off' | 'camera-on') =>
      assert.equal(
        (await rig.api('POST', `/v1/livestreams/${livestreamId}/hosts/h1/events`, { event }))
          .status,
        202,
      );
    // h1's recording goes to MP3 and back to MP4: a new recording serves h1's tiles.
    await camera('camera-off');
    await sleep(6_000);
    await camera('camera-on');
    await sleep(8_000);
    // A worker process killed with -9: its recordings are taken over by the node's other worker,
    // and the host recordings among them serve their tiles again from there.
    process.kill(rig.node.workers[0]!.pid!, 'SIGKILL');
    await sleep(16_000);
    assert.equal((await rig.api('POST', `/v1/livestreams/${livestreamId}/stop`)).status, 202);
    await rig.node.livestreams.result(livestreamId);

    // Until the first host's recording served its tile the composite showed placeholders alone,
    // and told so on the bus for scoring: a hold-up of its picture, from about the hosts' join.
    const events = await busEvents(rig);
    const firstAt = (change: string) =>
      Math.min(
        ...events
          .filter((e) => e.type === `tapedeck.host.${change}`)
          .map((e) => Date.parse(e.data.at as string)),
      );
    const still = events.filter(
      (e) =>
        e.type === HELD_UP_EVENT_TYPE && e.data.track === 'composite' && e.data.media === 'picture',
    );
    for (const e of still) assert.deepEqual(heldUpEventProblems(e), [], JSON.stringify(e));
    const atJoin = still.find((e) => Date.parse(e.data.from as string) < firstAt('joined') + 3_000);
    assert.ok(
      atJoin,
      `joined at ${new Date(firstAt('joined')).toISOString()}: ${JSON.stringify(still.map((e) => e.data))}`,
    );
    assert.ok(
      Date.parse(atJoin.data.to as string) + (atJoin.data.withinMs as number) >=
        firstAt('video-started'),
      `a host's tile shows only after its first picture: ${JSON.stringify(atJoin.data)}`,
    );

    const tracks = await storedTracks(rig, livestreamId);
    assert.deepEqual([...tracks.keys()].sort(), ['composite', 'host-h1', 'host-h2']);
    assert.ok(
      tracks.get('host-h1')!.some((s) => s.file.endsWith('.mp3')),
      'h1 was recorded as MP3 while its camera was off',
    );
    const composite = tracks.get('composite')!;
    for (const [i, s] of composite.entries()) {
      assert.equal(await decodeErrors(s.file), '', s.key);
      if (i > 0) assert.ok(s.seq > composite[i - 1]!.seq, 'numbering');
    }
    // By the end the composite shows both hosts' pictures, h1's from its third recording and
    // both from wherever their recordings run after the kill.
    const last = composite.at(-1)!;
    const at = (await probeMedia(last.file)).durationSec - 0.5;
    const tiles = gridLayout(DEFAULT_COMPOSITE_CANVAS, 2).tiles;
    for (const [i, host] of ['h1', 'h2'].entries()) {
      const shown = await meanColour(last.file, at, tiles[i]!);
      if (colourDistance(shown, PLACEHOLDER_GREY) > 40) continue;
      // Since when: the tile over the last snippet, and what the node said of the host's recordings.
      const before: string[] = [];
      for (let t = Math.floor(at); t >= 0; t -= 1)
        before.push(`${t} s: ${(await meanColour(last.file, t, tiles[i]!)).map(Math.round)}`);
      const said = rig.lines.filter((l) => /tiles/.test(l) || l.includes(`host-${host}-`));
      assert.fail(
        `${host}'s tile ends showing ${shown.map(Math.round)} (${last.key}, ${at.toFixed(1)} s; ` +
          `before: ${before.join(', ')}): ${said.join('\n')}`,
      );
    }
  },
);
