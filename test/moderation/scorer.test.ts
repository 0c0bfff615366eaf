import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { CloudEvent } from '../../src/domain/cloudevent.ts';
import { snippetReadyEvent, type SnippetReady } from '../../src/domain/snippet-event.ts';
import { snippetKey } from '../../src/domain/snippet-key.ts';
import { SNIPPET_SCORED, type SnippetScored } from '../../src/domain/snippet-scored.ts';
import { openBus } from '../../src/delivery/bus/open.ts';
import type { MessageBus } from '../../src/delivery/bus/port.ts';
import { sha256File } from '../../src/delivery/file-hash.ts';
import { openStore } from '../../src/delivery/store/open.ts';
import { startScorer } from '../../src/moderation/scorer.ts';
import { trackPresence } from '../../src/moderation/presence-tracker.ts';
import { trackHoldUps } from '../../src/moderation/hold-up-tracker.ts';
import { heldUpCloudEvent } from '../../src/domain/held-up-event.ts';
import { hostCloudEvent } from '../../src/domain/host-event.ts';
import type { HostEvent } from '../../src/domain/host-presence.ts';
import { impairedSnippet } from '../support/impaired-media.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);

async function ready(
  file: string,
  variant: 'mp4' | 'mp3',
  seq: number,
  store: ReturnType<typeof openStore> | null,
): Promise<CloudEvent<SnippetReady>> {
  const startMs = T0 + seq * 15_000;
  const key = snippetKey({ livestreamId: 'ls1', track: 'host-h1', variant, startMs, seq });
  const { sha256, bytes } = await sha256File(file);
  // Without a store the event announces an object nobody stored.
  await store?.putFile(key, file, { sha256, contentType: 'video/mp4' });
  return snippetReadyEvent({
    livestreamId: 'ls1',
    recordingId: `host-h1-${variant}`,
    track: 'host-h1',
    hostId: 'h1',
    variant,
    seq,
    start: new Date(startMs).toISOString(),
    end: new Date(startMs + 15_000).toISOString(),
    durationMs: 15_000,
    bytes,
    sha256,
    key,
    media: {
      container: variant,
      video:
        variant === 'mp4'
          ? { codec: 'h264', width: 320, height: 180, fps: 15, bitrateKbps: 5000 }
          : null,
      audio: {
        codec: variant === 'mp4' ? 'aac' : 'mp3',
        sampleRate: 48000,
        channels: 1,
        bitrateKbps: 64,
      },
    },
  });
}

/** Every `tapedeck.snippet.scored` event on the bus, as it comes. */
async function collectScored(bus: MessageBus) {
  const scored: SnippetScored[] = [];
  const sub = await bus.subscribe(
    { name: 'test-scored', typePrefix: SNIPPET_SCORED },
    async (d) => {
      scored.push((d.event as CloudEvent<SnippetScored>).data);
      await d.ack();
    },
  );
  return { scored, sub };
}

test(
  'snippet events on the embedded bus are scored: an impaired one is flagged for review, a clean one is not, and what can never be scored is refused once',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('scorer-');
    dirs.push(dir);
    const bus = await openBus('embedded', { dataDir: dir });
    const store = openStore(`file://${join(dir, 'store')}`);
    const logs: string[] = [];
    const scorer = await startScorer({
      bus,
      store,
      workDir: join(dir, 'work'),
      onLog: (l) => logs.push(l),
    });
    const { scored, sub } = await collectScored(bus);
    try {
      const impaired = await ready(
        await impairedSnippet(dir, 'black', 'silence', 'mp4'),
        'mp4',
        0,
        store,
      );
      const clean = await ready(await impairedSnippet(dir, 'none', 'none', 'mp4'), 'mp4', 1, store);
      const noisy = await ready(
        await impairedSnippet(dir, 'none', 'noise', 'mp3'),
        'mp3',
        2,
        store,
      );
      // An event whose object is not in the store, and an object that is not media.
      const missing = await ready(join(dir, `impaired-none-none.mp4`), 'mp4', 9, null);
      const junkFile = join(dir, 'junk.mp4');
      await writeFile(junkFile, 'not an mp4\n');
      const junk = await ready(junkFile, 'mp4', 3, store);
      for (const e of [impaired, clean, noisy, missing, junk]) await bus.publish(e);

      for (let i = 0; i < 600 && scorer.stats().scored + scorer.stats().refused < 5; i++)
        await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 50 && scored.length < 3; i++)
        await new Promise((r) => setTimeout(r, 100));

      assert.deepEqual(
        scorer.stats(),
        { scored: 3, flagged: 2, refused: 2, retried: 0 },
        logs.join('\n'),
      );
      const bySeq = new Map(scored.map((s) => [s.seq, s]));
      assert.equal(bySeq.get(0)?.review, true);
      assert.deepEqual(
        bySeq.get(0)?.video?.reasons.map((r) => r.impairment),
        ['black'],
      );
      assert.deepEqual(
        bySeq.get(0)?.audio.reasons.map((r) => r.impairment),
        ['silence'],
      );
      assert.equal(bySeq.get(1)?.review, false);
      assert.equal(bySeq.get(2)?.video, null);
      assert.deepEqual(
        bySeq.get(2)?.audio.reasons.map((r) => r.impairment),
        ['noise'],
      );
      assert.ok(
        logs.some((l) => /_000009.* is not in the store/.test(l)),
        logs.join('\n'),
      );
      assert.ok(
        logs.some((l) => /_000003.*could not be decoded/.test(l)),
        logs.join('\n'),
      );
    } finally {
      await sub.close();
      await scorer.close();
      await bus.close();
      await store.close();
    }
  },
);

test(
  'silence while the host has its microphone off is not an impairment; black with the camera on still is',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('scorer-presence-');
    dirs.push(dir);
    const bus = await openBus('embedded', { dataDir: dir });
    const store = openStore(`file://${join(dir, 'store')}`);
    const startMs = T0 + 4 * 15_000;
    const change = (type: HostEvent['type'], afterSec: number) =>
      bus.publish(
        hostCloudEvent('ls1', {
          type,
          hostId: 'h1',
          at: startMs + afterSec * 1000,
          cause: 'media',
        }),
      );
    await change('joined', -20);
    await change('microphone-off', 4);
    await change('microphone-on', 11);
    const presence = await trackPresence(bus);
    const scorer = await startScorer({ bus, store, workDir: join(dir, 'work'), presence });
    const { scored, sub } = await collectScored(bus);
    try {
      // Black and silent from 5 to 10 s.
      const file = await impairedSnippet(dir, 'black', 'silence', 'mp4');
      await bus.publish(await ready(file, 'mp4', 4, store));
      for (let i = 0; i < 600 && scored.length < 1; i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(scored.length, 1);
      assert.deepEqual(scored[0]!.audio.reasons, []);
      assert.deepEqual(
        scored[0]!.video?.reasons.map((r) => r.impairment),
        ['black'],
      );
      assert.equal(scored[0]!.review, true);
    } finally {
      await sub.close();
      await scorer.close();
      await presence.close();
      await bus.close();
      await store.close();
    }
  },
);

test(
  "the recorder's own hold-up is not the host's impairment: silence and black inside it are left out",
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('scorer-held-up-');
    dirs.push(dir);
    const bus = await openBus('embedded', { dataDir: dir });
    const store = openStore(`file://${join(dir, 'store')}`);
    await bus.publish(
      hostCloudEvent('ls1', { type: 'joined', hostId: 'h1', at: T0, cause: 'media' }),
    );
    // The second snippet's recorder tells it was held up from about 4.5 to 10.5 s into it, either
    // end within 0.5 s.
    const heldUp = (track: string, seq = 5, media?: 'picture') =>
      heldUpCloudEvent({
        livestreamId: 'ls1',
        track,
        recordingId: `${track}-mp4`,
        fromMs: T0 + seq * 15_000 + 4_500,
        toMs: T0 + seq * 15_000 + 10_500,
        withinMs: 500,
        ...(media ? { media } : {}),
      });
    // Another track's hold-up says nothing of this one.
    await bus.publish(heldUp('composite'));
    const presence = await trackPresence(bus);
    const held = await trackHoldUps(bus);
    const scorer = await startScorer({
      bus,
      store,
      workDir: join(dir, 'work'),
      presence,
      heldUp: held,
    });
    const { scored, sub } = await collectScored(bus);
    const scoredOne = async (n: number) => {
      for (let i = 0; i < 600 && scored.length < n; i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(scored.length, n);
      return scored[n - 1]!;
    };
    try {
      // Black and silent from 5 to 10 s.
      const file = await impairedSnippet(dir, 'black', 'silence', 'mp4');
      await bus.publish(await ready(file, 'mp4', 4, store));
      const before = await scoredOne(1);
      assert.deepEqual(
        before.audio.reasons.map((r) => r.impairment),
        ['silence'],
      );
      assert.deepEqual(
        before.video?.reasons.map((r) => r.impairment),
        ['black'],
      );
      assert.equal(before.review, true);

      await bus.publish(heldUp('host-h1'));
      for (let i = 0; i < 100 && held.ranges('ls1', 'host-h1').length === 0; i++)
        await new Promise((r) => setTimeout(r, 50));
      await bus.publish(await ready(file, 'mp4', 5, store));
      const after = await scoredOne(2);
      assert.deepEqual(after.audio.reasons, []);
      assert.deepEqual(after.video?.reasons ?? [], []);
      assert.equal(after.review, false);

      // A composite that showed placeholders while its hosts' pictures had not reached it held
      // the picture alone: the silence is still the host's.
      await bus.publish(heldUp('host-h1', 6, 'picture'));
      for (let i = 0; i < 100 && held.ranges('ls1', 'host-h1').length < 2; i++)
        await new Promise((r) => setTimeout(r, 50));
      await bus.publish(await ready(file, 'mp4', 6, store));
      const pictureOnly = await scoredOne(3);
      assert.deepEqual(
        pictureOnly.audio.reasons.map((r) => r.impairment),
        ['silence'],
      );
      assert.deepEqual(pictureOnly.video?.reasons ?? [], []);
      assert.equal(pictureOnly.review, true);
    } finally {
      await sub.close();
      await scorer.close();
      await held.close();
      await presence.close();
      await bus.close();
      await store.close();
    }
  },
);

test(
  "a snippet's pictures measured as recorded are scored from its event, not from the file",
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('scorer-pictures-');
    dirs.push(dir);
    const bus = await openBus('embedded', { dataDir: dir });
    const store = openStore(`file://${join(dir, 'store')}`);
    const scorer = await startScorer({ bus, store, workDir: join(dir, 'work') });
    const { scored, sub } = await collectScored(bus);
    try {
      // The file's picture moves all along; the recorder saw it still from 4 to 9 s.
      const e = await ready(await impairedSnippet(dir, 'none', 'none', 'mp4'), 'mp4', 0, store);
      const pictures = Array.from({ length: 30 }, (_, i) => ({
        atSec: i / 2,
        lumaMean: 110,
        lumaStdDev: 60,
        lumaChange: i === 0 || (i > 8 && i <= 18) ? 0 : 9,
      }));
      await bus.publish(snippetReadyEvent({ ...e.data, pictures }));
      for (let i = 0; i < 600 && scored.length < 1; i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(scored.length, 1);
      assert.deepEqual(
        scored[0]!.video?.reasons.map((r) => [r.impairment, r.fromSec, r.toSec]),
        [['frozen', 4, 9.5]],
      );
      assert.deepEqual(scored[0]!.audio.reasons, [], 'the sound is still decoded and clean');
    } finally {
      await sub.close();
      await scorer.close();
      await bus.close();
    }
  },
);
