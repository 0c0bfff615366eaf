import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { placeInputs } from '../../src/media/pipeline/build.ts';
import type { InputSpec } from '../../src/media/pipeline/spec.ts';
import { SharedDecoder } from '../../src/media/shared-decoder.ts';
import { freeTcpPort as tcpPort, freeUdpPort as udpPort } from '../../src/support/free-port.ts';
import {
  runSyntheticRecording,
  type DeliveredSnippet,
} from '../../src/media/synthetic-recording.ts';
import type { WorkerEvent } from '../../src/media/worker/protocol.ts';
import { measureAvSync } from '../support/av-sync.ts';
import { stopTracked } from '../support/children.ts';
import { colourDistance, meanColour, PLACEHOLDER_GREY } from '../support/mean-colour.ts';
import {
  assertContinuous,
  FPS,
  SAME_PICTURE_TIMING_MS,
  sharedHost,
  SNIPPET_S,
  spec,
  startHost,
} from '../support/shared-picture.ts';
import { tempDir } from '../support/tapedeck.ts';
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test(
  'a host decoded once feeds its recording and the composite, in step with its sound',
  { timeout: 180_000 },
  async (t) => {
    const out = await tempDir('shared-decode');
    dirs.push(out);
    const [videoPort, hostAudio, compositeAudio, ownVideo, ownAudio] = [
      await udpPort(),
      await udpPort(),
      await udpPort(),
      await udpPort(),
      await udpPort(),
    ];
    const sender = startHost([videoPort, ownVideo], [hostAudio, compositeAudio, ownAudio]);
    const decoder = new SharedDecoder({
      video: { port: videoPort, codec: 'H264', payloadType: 96 },
      framesPort: await tcpPort(),
      fps: FPS,
    });
    try {
      await decoder.start();
      const events: WorkerEvent[] = [];
      const own: InputSpec = {
        ...sharedHost(0, ownAudio),
        source: {
          type: 'rtp',
          video: { port: ownVideo, codec: 'H264', payloadType: 96 },
          audio: { port: ownAudio, codec: 'OPUS', payloadType: 111 },
        },
      };
      const [host, composite, ownDecode] = await Promise.all([
        runSyntheticRecording({
          spec: spec('host', 'host', out, sharedHost(decoder.spec.framesPort, hostAudio)),
          durationSec: 20,
          onEvent: (e) => events.push(e),
        }),
        runSyntheticRecording({
          spec: spec(
            'composite',
            'composite',
            out,
            sharedHost(decoder.spec.framesPort, compositeAudio),
          ),
          durationSec: 20,
          onEvent: (e) => events.push(e),
        }),
        // The same host decoded by its recording itself, as without shared decoders.
        runSyntheticRecording({ spec: spec('host', 'own', out, own), durationSec: 20 }),
      ]);
      assert.deepEqual(
        events.filter((e) => ['error', 'input-lost', 'input-restored'].includes(e.event)),
        [],
      );
      assert.equal(decoder.starts, 1, 'the decoder ran throughout');
      for (const snippets of [host.snippets, composite.snippets]) {
        assert.ok(snippets.length >= 3, `${snippets.length} snippets`);
        await assertContinuous(snippets);
      }
      // In step with the sound as the recording's own decode of the same RTP is. Each recording
      // puts 15-fps frames on its own frame instants, the nearest one to each, so it lands within
      // half a frame (33 ms) of the truth, as the sender's frames fall against its instants; two
      // recordings started at different instants, within a frame of each other. Within a run it
      // holds still, as the frames keep the timestamps the decoder's jitter buffer gave them,
      // however late they reach the recording.
      const offsetsOf = async (snippets: DeliveredSnippet[]) => {
        const all: number[] = [];
        for (const s of snippets.slice(1, -1))
          all.push(...(await measureAvSync(s.location)).offsetsMs);
        return all;
      };
      const [offsets, ownOffsets] = [
        await offsetsOf(host.snippets),
        await offsetsOf(ownDecode.snippets),
      ];
      const show = (o: number[]) => o.map((x) => x.toFixed(0)).join(' ');
      t.diagnostic(
        `A/V offsets (ms, + = sound late): shared ${show(offsets)}; own decode ${show(ownOffsets)}`,
      );
      assert.ok(offsets.length >= 3 && ownOffsets.length >= 3, 'sync marks in both');
      const mean = (o: number[]) => o.reduce((a, b) => a + b, 0) / o.length;
      assert.ok(
        Math.max(...offsets) - Math.min(...offsets) <= 10,
        `steady within a run: ${show(offsets)}`,
      );
      assert.ok(
        Math.abs(mean(offsets) - mean(ownOffsets)) <= SAME_PICTURE_TIMING_MS,
        `shared ${show(offsets)} against own decode ${show(ownOffsets)}`,
      );
      // The composite shows the host's picture in its cell, not the placeholder.
      const cell = placeInputs(spec('composite', 'c', out, sharedHost(0, 0)), [
        sharedHost(0, 0),
      ])[0]!.video;
      const shown = await meanColour(composite.snippets[1]!.location, 1, cell);
      assert.ok(
        colourDistance(shown, PLACEHOLDER_GREY) > 40,
        `the composite's cell shows ${shown.map(Math.round)}`,
      );
    } finally {
      await decoder.stop();
      await stopTracked(sender, 'SIGKILL');
    }
  },
);

test(
  'a shared decoder killed with -9 costs the picture until it is back (placeholder), never the recording',
  { timeout: 180_000 },
  async () => {
    const out = await tempDir('shared-decode-kill');
    dirs.push(out);
    const [videoPort, audioPort] = [await udpPort(), await udpPort()];
    const sender = startHost([videoPort], [audioPort]);
    const decoder = new SharedDecoder({
      video: { port: videoPort, codec: 'H264', payloadType: 96 },
      framesPort: await tcpPort(),
      fps: FPS,
    });
    try {
      await decoder.start();
      const events: { event: WorkerEvent; atMs: number }[] = [];
      let baseUtcMs = 0;
      let killedAtMs = 0;
      const kill = setTimeout(() => {
        killedAtMs = Date.now();
        process.kill(decoder.pid!, 'SIGKILL');
      }, 6000);
      const host = await runSyntheticRecording({
        spec: spec('host', 'host', out, sharedHost(decoder.spec.framesPort, audioPort)),
        durationSec: 18,
        onStarted: (info) => (baseUtcMs = Number(BigInt(info.baseTimeUtcNs) / 1_000_000n)),
        onEvent: (event) => events.push({ event, atMs: Date.now() }),
      });
      clearTimeout(kill);
      assert.ok(killedAtMs > 0, 'the decoder was killed during the recording');
      assert.equal(decoder.starts, 2, 'the decoder was started again');
      assert.deepEqual(
        events.filter((e) => e.event.event === 'error').map((e) => e.event),
        [],
      );
      const lost = events.filter((e) => e.event.event === 'input-lost');
      const restored = events.filter((e) => e.event.event === 'input-restored');
      assert.equal(lost.length, 1, 'the picture was lost once');
      assert.equal(restored.length, 1, 'and came back once');
      assert.ok(lost[0]!.atMs >= killedAtMs && restored[0]!.atMs > lost[0]!.atMs);

      assert.ok(host.snippets.length >= 4, `${host.snippets.length} snippets`);
      await assertContinuous(host.snippets);
      // Right after the loss the placeholder shows; by the end the host's picture is back.
      const at = (utcMs: number) => {
        const t = (utcMs - baseUtcMs) / 1000;
        const s = host.snippets.find((x) => Number(x.endRunningTimeNs) / 1e9 > t)!;
        return { file: s.location, sec: t - Number(s.startRunningTimeNs) / 1e9 };
      };
      const full = { x: 0, y: 0, width: 640, height: 360 };
      const gone = at(lost[0]!.atMs + 150);
      const during = await meanColour(gone.file, gone.sec, full);
      assert.ok(
        colourDistance(during, PLACEHOLDER_GREY) < 40,
        `while lost the picture is ${during.map(Math.round)}`,
      );
      const last = host.snippets.at(-2)!;
      const back = await meanColour(last.location, SNIPPET_S - 0.5, full);
      assert.ok(
        colourDistance(back, PLACEHOLDER_GREY) > 40,
        `at the end it is ${back.map(Math.round)}`,
      );
    } finally {
      await decoder.stop();
      await stopTracked(sender, 'SIGKILL');
    }
  },
);
