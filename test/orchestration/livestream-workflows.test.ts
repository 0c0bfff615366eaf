import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { workflowIds } from '../../src/domain/recording-plan.ts';
import { MIN_HISTORY_LIMIT } from '../../src/node/node.ts';
import { privateNetworkOnly } from '../support/netns.ts';
import { recordHistoriesIfAsked } from './histories.ts';
import { busEvents, startNodeRig, storedTracks, type StoredSnippet } from './node-rig.ts';

const skip = privateNetworkOnly();
if (skip) console.log(`skipping the Temporal livestream test: ${skip}`);

/** Durations from the files themselves, so the timeline is what was recorded, not what was meant. */
async function withEnds(snippets: StoredSnippet[]) {
  return Promise.all(
    snippets.map(async (s) => {
      const info = await probeMedia(s.file);
      // Which track ran how long: a seam's overlap is the picture's or the sound's.
      const tracks = [
        info.video && `video ${info.video.durationSec}`,
        info.audio && `audio ${info.audio.durationSec}`,
      ];
      return {
        ...s,
        endMs: s.startMs + info.durationSec * 1000,
        tracks: tracks.filter(Boolean).join(', '),
      };
    }),
  );
}

test(
  'four WHIP hosts give five recording workflows; host tracks switch MP4 and MP3 with the camera, without holes or overlaps over 1 s, while every workflow goes on as new runs',
  { timeout: 300_000, skip },
  async () => {
    // The lowest history limit: every workflow goes on as a new run (Continue-As-New) within its
    // first steps and again after a few events, as a livestream of days does after thousands.
    const rig = await startNodeRig('orch-e2e-', { historyLimit: MIN_HISTORY_LIMIT });
    const { livestreamId, hosts } = await rig.livestream(['h1', 'h2', 'h3', 'h4']);
    await sleep(10_000);
    hosts.get('h2')!.send('camera off'); // noticed from the media: no video for 2 s
    await sleep(10_000);
    hosts.get('h2')!.send('camera on');
    await sleep(4_000);
    const off = await rig.api('POST', `/v1/livestreams/${livestreamId}/hosts/h4/events`, {
      event: 'camera-off',
    });
    assert.equal(off.status, 202, JSON.stringify(off.body));
    await sleep(14_000);
    const stop = await rig.api('POST', `/v1/livestreams/${livestreamId}/stop`);
    assert.equal(stop.status, 202);
    const summary = await rig.node.livestreams.result(livestreamId);
    await recordHistoriesIfAsked(rig, livestreamId);
    const segments = (track: string) =>
      JSON.stringify(summary.recordings.find((r) => r.track === track)?.segments);

    // Exactly five recording workflows, as Temporal lists them.
    const listed = await rig.node.livestreams.recordingWorkflows(livestreamId);
    assert.equal(listed.length, 5, JSON.stringify(listed));
    assert.deepEqual(listed.map((w) => w.type).sort(), [
      'compositeRecordingWorkflow',
      ...Array(4).fill('hostRecordingWorkflow'),
    ]);
    assert.ok(
      listed.every((w) => w.status === 'COMPLETED'),
      JSON.stringify(listed),
    );
    assert.equal(summary.recordings.length, 5);

    // Each of the six workflows handed over to a new run at least once; a recording running then
    // went on under the next run's lease: a camera that stayed on is one recording from start to
    // stop, and no gap was announced.
    const continued = new Map<string, number>();
    for await (const w of rig.node.client.workflow.list({
      query: `WorkflowId STARTS_WITH "${workflowIds.livestream(livestreamId)}" AND ExecutionStatus = "ContinuedAsNew"`,
    }))
      continued.set(w.workflowId, (continued.get(w.workflowId) ?? 0) + 1);
    assert.deepEqual(
      [...continued.keys()].sort(),
      [workflowIds.livestream(livestreamId), ...listed.map((w) => w.workflowId)].sort(),
      JSON.stringify([...continued]),
    );
    for (const track of ['composite', 'host-h1', 'host-h3']) {
      const recorded = summary.recordings.find((r) => r.track === track)!.segments;
      assert.deepEqual(
        recorded.map((r) => [r.firstSeq, r.ended]),
        [[0, 'stopped']],
        `${track}: ${JSON.stringify(recorded)}`,
      );
    }
    assert.deepEqual(
      (await busEvents(rig)).filter((e) => e.type === 'tapedeck.recording.gap'),
      [],
    );

    const tracks = await storedTracks(rig, livestreamId);
    assert.deepEqual([...tracks.keys()].sort(), [
      'composite',
      'host-h1',
      'host-h2',
      'host-h3',
      'host-h4',
    ]);
    for (const [track, snippets] of tracks)
      for (const s of snippets) assert.equal(await decodeErrors(s.file), '', `${track} ${s.key}`);

    // /metrics counts what the workers delivered (they report every 2 s).
    const stored = [...tracks.values()].flat().length;
    const metric = async (name: string) => {
      const text = await (await fetch(`${rig.node.apiUrl}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    };
    for (
      let i = 0;
      i < 40 &&
      ((await metric('tapedeck_snippets_delivered_total')) < stored ||
        (await metric('tapedeck_recordings_active')) > 0);
      i++
    )
      await sleep(250);
    assert.equal(await metric('tapedeck_snippets_delivered_total'), stored);
    assert.equal(await metric('tapedeck_recordings_active'), 0);
    assert.ok((await metric('tapedeck_delivery_latency_seconds_count')) > 0);

    // Each host track: no hole and no overlap beyond 1 s between consecutive snippets.
    for (const id of ['h1', 'h2', 'h3', 'h4']) {
      const timeline = await withEnds(tracks.get(`host-${id}`)!);
      for (let i = 1; i < timeline.length; i++) {
        const seam = timeline[i]!.startMs - timeline[i - 1]!.endMs;
        assert.ok(
          Math.abs(seam) <= 1_000,
          `${id}: ${timeline[i - 1]!.key} (${timeline[i - 1]!.tracks} s) → ${timeline[i]!.key} leaves ${seam.toFixed(0)} ms; ` +
            `recordings ${segments(`host-${id}`)}`,
        );
      }
    }
    const variants = (id: string) => tracks.get(`host-${id}`)!.map((s) => s.variant);
    const runs = (v: string[]) => v.filter((x, i) => i === 0 || v[i - 1] !== x);
    assert.deepEqual(runs(variants('h1')), ['mp4']);
    assert.deepEqual(runs(variants('h3')), ['mp4']);
    assert.deepEqual(runs(variants('h2')), ['mp4', 'mp3', 'mp4']);
    assert.deepEqual(runs(variants('h4')), ['mp4', 'mp3']);

    // The switches follow the camera events on the bus: a new media worker starts in about 2 s.
    const events = await busEvents(rig);
    const at = (host: string, type: string) =>
      Date.parse(
        events.find((e) => e.type === `tapedeck.host.${type}` && e.data.hostId === host)!.data.at,
      );
    const firstOf = (id: string, variant: string, afterMs = 0) =>
      tracks.get(`host-${id}`)!.find((s) => s.variant === variant && s.startMs >= afterMs)!;
    const h2Off = at('h2', 'camera-off');
    const h2On = at('h2', 'camera-on');
    const mp3 = firstOf('h2', 'mp3');
    assert.ok(
      mp3.startMs >= h2Off - 1_000 && mp3.startMs <= h2Off + 5_000,
      `h2 MP3 ${mp3.startMs - h2Off} ms after camera-off`,
    );
    const back = firstOf('h2', 'mp4', h2Off);
    assert.ok(
      back.startMs >= h2On - 1_000 && back.startMs <= h2On + 5_000,
      `h2 MP4 ${back.startMs - h2On} ms after camera-on`,
    );
    const h4Mp3 = firstOf('h4', 'mp3');
    const h4Off = at('h4', 'camera-off');
    assert.ok(
      h4Mp3.startMs >= h4Off - 1_000 && h4Mp3.startMs <= h4Off + 5_000,
      `h4 MP3 ${h4Mp3.startMs - h4Off} ms after camera-off`,
    );

    // MP3 snippets carry audio only, at the profile; MP4 snippets picture and sound.
    const mp3Info = await probeMedia(mp3.file);
    assert.equal(mp3Info.video, undefined);
    assert.equal(mp3Info.audio?.codec, 'mp3');
    const mp4Info = await probeMedia(back.file);
    assert.deepEqual([mp4Info.video?.width, mp4Info.video?.height], [640, 360]);
    assert.equal(mp4Info.audio?.codec, 'aac');
    const composite = await probeMedia(tracks.get('composite')![0]!.file);
    assert.deepEqual([composite.video?.width, composite.video?.height], [360, 640]);
    console.log(
      `switch after camera event: h2 off ${mp3.startMs - h2Off} ms, h2 on ${back.startMs - h2On} ms, h4 off ${h4Mp3.startMs - h4Off} ms`,
    );
    console.log(`runs continued as new: ${[...continued.values()].join(', ')}`);
    console.log(
      `tracks: ${[...tracks].map(([t, s]) => `${t}=${s.map((x) => `${x.variant}#${x.seq}`).join(',')}`).join(' ')}`,
    );
  },
);
