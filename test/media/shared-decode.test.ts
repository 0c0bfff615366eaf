import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { defaultProfile } from '../../src/domain/profile.ts';
import { placeInputs } from '../../src/media/pipeline/build.ts';
import { syncPeriodNs } from '../../src/media/pipeline/inputs.ts';
import type { InputSpec, RecordingSpec } from '../../src/media/pipeline/spec.ts';
import { SharedDecoder } from '../../src/media/shared-decoder.ts';
import { freeTcpPort as tcpPort, freeUdpPort as udpPort } from '../../src/support/free-port.ts';
import {
  runSyntheticRecording,
  type DeliveredSnippet,
} from '../../src/media/synthetic-recording.ts';
import type { WorkerEvent } from '../../src/media/worker/protocol.ts';
import { measureAvSync } from '../support/av-sync.ts';
import { spawnTracked, stopTracked } from '../support/children.ts';
import { decodeErrors, largestFrameGap, probeMedia } from '../support/ffprobe.ts';
import { colourDistance, meanColour, PLACEHOLDER_GREY } from '../support/mean-colour.ts';
import { tempDir } from '../support/tapedeck.ts';

const FPS = 15;
const FRAME = 1 / FPS;
const SNIPPET_S = 5;
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/**
 * One host as the ingest forwards it: H.264 picture that inverts on the instants its audio
 * ticks, to its video ports (a decoder's, or a recording's own) and to one audio port per
 * recording.
 */
function startHost(videoPorts: number[], audioPorts: number[]) {
  const out = (tee: string, ports: number[]) =>
    ports
      .map((p) => `${tee}. ! queue ! udpsink host=127.0.0.1 port=${p} sync=false async=false`)
      .join(' ');
  return spawnTracked(
    'gst-launch-1.0',
    [
      '-q',
      ...(
        `videotestsrc is-live=true pattern=ball flip=true ! video/x-raw,width=640,height=360,framerate=${FPS}/1 ! ` +
        'x264enc tune=zerolatency speed-preset=ultrafast bitrate=2500 key-int-max=30 ! ' +
        `rtph264pay pt=96 config-interval=-1 aggregate-mode=zero-latency ! tee name=v ${out('v', videoPorts)} ` +
        `audiotestsrc is-live=true wave=ticks tick-interval=${syncPeriodNs(FPS)} freq=1000 volume=0.8 ! audio/x-raw,rate=48000,channels=1 ! ` +
        `opusenc ! rtpopuspay pt=111 ! tee name=a ${out('a', audioPorts)}`
      ).split(' '),
    ],
    { stdio: 'ignore' },
  );
}

function sharedHost(framesPort: number, audioPort: number): InputSpec {
  return {
    id: 'ana',
    displayName: 'Ana',
    cameraOn: true,
    source: {
      type: 'rtp',
      video: { framesPort },
      audio: { port: audioPort, codec: 'OPUS', payloadType: 111 },
    },
  };
}

function spec(
  kind: 'host' | 'composite',
  id: string,
  out: string,
  input: InputSpec,
): RecordingSpec {
  const canvas = kind === 'host' ? { width: 640, height: 360 } : { width: 360, height: 640 };
  return {
    kind,
    recordingId: id,
    outDir: out,
    profile: { ...defaultProfile(canvas), snippetSeconds: SNIPPET_S },
    inputs: [input],
  };
}

/** Whole snippets are exact and follow each other without a gap or a missing frame. */
async function assertContinuous(snippets: DeliveredSnippet[]): Promise<void> {
  for (const [i, s] of snippets.entries()) {
    assert.equal(await decodeErrors(s.location), '', `${s.location} decodes`);
    if (i > 0)
      assert.equal(
        s.startRunningTimeNs,
        snippets[i - 1]!.endRunningTimeNs,
        `no gap: ${snippets.map((x) => `${x.startRunningTimeNs}-${x.endRunningTimeNs}`).join(' ')}`,
      );
    const { gapSec, afterSec } = await largestFrameGap(s.location);
    assert.ok(gapSec < 1.5 * FRAME, `${s.location}: frame gap ${gapSec} s after ${afterSec} s`);
    // The first snippet starts with the pipeline and the last ends with the stop.
    if (i > 0 && i < snippets.length - 1) {
      const info = await probeMedia(s.location);
      assert.ok(
        Math.abs(info.video!.durationSec - SNIPPET_S) <= FRAME + 1e-3,
        `${s.location}: ${info.video!.durationSec} s`,
      );
    }
  }
}

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
        Math.abs(mean(offsets) - mean(ownOffsets)) <= 1000 * FRAME + 10,
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
