import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FeedbackCounters } from '../../../src/ingest/live-ingest.ts';
import type { LiveRecording } from '../../../src/recorder/live-recording.ts';
import { decodeErrors, probeMedia } from '../../support/ffprobe.ts';
import { run } from '../../support/run.ts';
import {
  describe,
  liveRigs,
  snippetFiles,
  startPublisher,
  stopPublishers,
  type Publisher,
} from './harness.ts';

const { rig: liveRig, publishers } = liveRigs('live-feedback');

/** Polls until `ready` holds; `what` says what was awaited when it never does. */
async function until(ready: () => boolean, ms: number, what: () => string): Promise<void> {
  for (const end = Date.now() + ms; !ready(); await sleep(100))
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what()}`);
}

/** A small grey picture of what a recording shows at a wall-clock instant. */
async function pictureAt(recording: LiveRecording, utcMs: number): Promise<number[]> {
  const ms = (ns: string) => Number(BigInt(ns) / 1_000_000n);
  const snippet = recording.snippets.find(
    (s) => ms(s.startUtcNs) <= utcMs && utcMs < ms(s.endUtcNs),
  );
  assert.ok(snippet, `no snippet holds ${utcMs}: ${JSON.stringify(recording.snippets)}`);
  // A seek into the last frames of a file can come back empty: stay 200 ms clear of the end.
  const lastMs = ms(snippet.endUtcNs) - ms(snippet.startUtcNs) - 200;
  const at = Math.min(utcMs - ms(snippet.startUtcNs), lastMs) / 1000;
  const { stdout } = await run('sh', [
    '-c',
    `ffmpeg -v error -ss ${at} -i ${snippet.location} -frames:v 1 -vf scale=32:18 -f rawvideo -pix_fmt gray - | od -An -tu1 -v`,
  ]);
  return stdout.trim().split(/\s+/).map(Number);
}

const keyframeRequestsSeen = (p: Publisher) =>
  p.lines.filter((l) => l.event === 'keyframe-request').length;

test(
  "recorders' RTCP reaches the host's feedback port, and their keyframe requests reach the publisher, before and after it publishes again",
  { timeout: 180_000 },
  async (t) => {
    const r = await liveRig();
    const first = startPublisher(r, 'h1', ['--pattern', 'ball']);
    publishers.push(first);
    await r.waitFor((e) => e.event.hostId === 'h1' && e.event.type === 'joined', 20_000);
    const port = await r.ingest.feedbackPort(r.livestreamId, 'h1');
    const counters = (): FeedbackCounters => r.ingest.feedbackCounters(r.livestreamId, 'h1')!;
    const show = () => `${JSON.stringify(counters())}; ${describe(r.events)}`;

    // The recorders ask for a keyframe as soon as their depayloaders start.
    await until(() => r.recorder.hostRecording('h1') !== null, 30_000, show);
    const recording = r.recorder.hostRecording('h1')!;
    await until(() => counters().keyframesRelayed > 0, 20_000, show);
    const atStart = counters();
    assert.ok(atStart.feedback >= atStart.keyframeRequests, show());

    // Loss on the way to the recorders: their depayloaders lose sync and ask again. The
    // ingest's own requests for the recorders that attached are over after 1.2 s.
    await sleep(2_000);
    const beforeLoss = counters();
    const publisherBefore = keyframeRequestsSeen(first);
    r.ingest.loseVideo(r.livestreamId, 'h1', 20);
    await until(
      () =>
        counters().keyframesRelayed > beforeLoss.keyframesRelayed &&
        keyframeRequestsSeen(first) > publisherBefore,
      20_000,
      () => `${show()}; publisher saw ${keyframeRequestsSeen(first)} (${publisherBefore} before)`,
    );
    const afterLoss = counters();

    const arrivals = () => r.ingest.arrivals(r.livestreamId).find((a) => a.hostId === 'h1')!;
    const firstArrivals = arrivals();
    // A new session of the host: the recorders keep their ports, and so does the feedback.
    publishers.splice(publishers.indexOf(first), 1);
    await stopPublishers([first], 'SIGKILL');
    await r.waitFor((e) => e.event.hostId === 'h1' && e.event.type === 'dropped', 15_000);
    // No session now: from here on a relayed request can only have gone to the new publisher.
    const whileAway = counters();
    const second = startPublisher(r, 'h1', ['--pattern', 'ball']);
    publishers.push(second);
    const resumed = await r.waitFor(
      (e) => e.event.hostId === 'h1' && e.event.type === 'resumed',
      20_000,
    );
    assert.equal(await r.ingest.feedbackPort(r.livestreamId, 'h1'), port);
    // Where the old stream broke off the recorders see a loss, and ask the new publisher.
    await until(() => counters().keyframesRelayed > whileAway.keyframesRelayed, 20_000, show);
    const afterResume = counters();
    await sleep(8_000);

    await stopPublishers(publishers.splice(0), 'SIGTERM');
    await r.waitFor((e) => e.event.hostId === 'h1' && e.event.type === 'left', 15_000);
    const final = counters();
    const allArrivals = arrivals();
    await r.close();
    t.diagnostic(
      JSON.stringify({
        atStart,
        beforeLoss,
        afterLoss,
        whileAway,
        afterResume,
        final,
        publisherKeyframeRequests: [keyframeRequestsSeen(first), keyframeRequestsSeen(second)],
      }),
    );

    // What reached the ingest adds up over both sessions; loopback loses nothing on the way in.
    assert.ok(firstArrivals.packets > 100, JSON.stringify(firstArrivals));
    assert.ok(allArrivals.packets > firstArrivals.packets + 100, JSON.stringify(allArrivals));
    assert.ok(allArrivals.lost <= allArrivals.packets / 100, JSON.stringify(allArrivals));
    // Receiver reports flow besides the requests.
    assert.ok(final.feedback > final.keyframeRequests, JSON.stringify(final));
    // The picture moves after the comeback: the new session's video reaches the recording.
    const before = await pictureAt(recording, resumed.event.at + 3_000);
    const after = await pictureAt(recording, resumed.event.at + 4_000);
    const moved = before.reduce((sum, v, i) => sum + Math.abs(v - after[i]!), 0) / before.length;
    t.diagnostic(`mean change over 1 s after the comeback: ${moved.toFixed(2)}`);
    assert.ok(moved > 1, `picture frozen after the comeback (mean change ${moved})`);
    const files = await snippetFiles(r, 'host-h1');
    assert.ok(files.length >= 2, `host-h1: ${files.length} snippets`);
    const last = files.at(-1)!;
    const info = await probeMedia(last);
    assert.ok((info.video?.frames ?? 0) > 30, `last snippet: ${info.video?.frames} frames`);
    assert.equal(await decodeErrors(last), '');
    const composite = await snippetFiles(r, 'composite');
    assert.ok(composite.length >= 2, `composite: ${composite.length} snippets`);
  },
);
