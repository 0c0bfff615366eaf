import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { colourDistance, meanColour, PLACEHOLDER_GREY } from '../support/mean-colour.ts';
import { privateNetworkOnly } from '../support/netns.ts';
import { startNodeRig, storedTracks } from './node-rig.ts';

const skip = privateNetworkOnly();
if (skip) console.log(`skipping the shared decode node test: ${skip}`);

test(
  'with --shared-decode a node decodes each host once for its recording and the composite, and a decoder killed with -9 costs no snippet',
  { timeout: 300_000, skip },
  async () => {
    const rig = await startNodeRig('shared-decode-', { sharedDecode: true });
    const decoders = rig.node.decoders!;
    const { livestreamId } = await rig.livestream(['h1', 'h2']);
    const until = Date.now() + 60_000;
    const pids = () => ['h1', 'h2'].map((h) => decoders.decoderPid(livestreamId, h));
    while (pids().some((p) => p === null) && Date.now() < until) await sleep(250);
    await sleep(8_000);
    // One copy of a host's video leaves the ingest, to its decoder; both recordings read that.
    for (const c of rig.node.ingest.copies(livestreamId)) {
      assert.equal(c.video, 1, `${c.hostId}: ${c.video} video copies`);
      assert.equal(c.audio, 2, `${c.hostId}: ${c.audio} audio copies`);
    }
    const [killed] = pids();
    process.kill(killed!, 'SIGKILL');
    await sleep(10_000);
    const [again] = pids();
    assert.ok(again !== null && again !== killed, `decoder ${killed} was started again (${again})`);
    assert.ok(
      rig.lines.some((l) => /shared decoder .*\/h1 exited \((SIGKILL|code 137)\)/.test(l)),
      rig.lines.filter((l) => /decoder/.test(l)).join('\n'),
    );
    const stop = await rig.api('POST', `/v1/livestreams/${livestreamId}/stop`);
    assert.equal(stop.status, 202);
    await rig.node.livestreams.result(livestreamId);

    const tracks = await storedTracks(rig, livestreamId);
    assert.deepEqual([...tracks.keys()].sort(), ['composite', 'host-h1', 'host-h2']);
    for (const [track, snippets] of tracks) {
      // Back to back: the decoder's death cut no snippet short and left no hole.
      for (const [i, s] of snippets.entries()) {
        assert.equal(await decodeErrors(s.file), '', `${track} ${s.key}`);
        if (i > 0) assert.equal(s.seq, snippets[i - 1]!.seq + 1, `${track}: numbering`);
        if (i > 0 && i < snippets.length - 1) {
          const sec = (await probeMedia(s.file)).durationSec;
          assert.ok(Math.abs(sec - 15) < 0.1, `${track} ${s.key}: ${sec} s`);
        }
      }
      const total = (await Promise.all(snippets.map((s) => probeMedia(s.file)))).reduce(
        (sum, info) => sum + info.durationSec,
        0,
      );
      assert.ok(total > 10, `${track}: ${total.toFixed(1)} s recorded`);
    }
    // The restarted decoder's frames reach the host's recording again: by the end it shows the
    // host, not the placeholder of a lost picture.
    const last = tracks.get('host-h1')!.at(-1)!;
    const shown = await meanColour(last.file, (await probeMedia(last.file)).durationSec - 0.5, {
      x: 0,
      y: 0,
      width: 640,
      height: 360,
    });
    assert.ok(
      colourDistance(shown, PLACEHOLDER_GREY) > 40,
      `host-h1 ends showing ${shown.map(Math.round)}`,
    );
    // No decoder outlives its livestream.
    assert.deepEqual(pids(), [null, null]);
  },
);
