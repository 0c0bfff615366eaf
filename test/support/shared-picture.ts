import assert from 'node:assert/strict';
import { largestTile } from '../../src/domain/layout.ts';
import { defaultProfile } from '../../src/domain/profile.ts';
import { CAMERA, syncPeriodNs } from '../../src/media/pipeline/inputs.ts';
import type { InputSpec, RecordingSpec } from '../../src/media/pipeline/spec.ts';
import type { DeliveredSnippet } from '../../src/media/synthetic-recording.ts';
import { spawnTracked } from './children.ts';
import { decodeErrors, largestFrameGap, probeMedia } from './ffprobe.ts';

/** Helpers of the tests where one host's picture is decoded once and read by other recordings. */

export const FPS = 15;
export const FRAME = 1 / FPS;
export const SNIPPET_S = 5;

/**
 * How far apart two recordings of the same host may put its picture against its sound (ms). Each
 * puts the frames on its own frame instants, the nearest one to each, so each lands within half a
 * frame of the truth and two within a frame of each other. Beside that, each recording's sound
 * starts from its own first packet's arrival: the drift guard's first lags of three recordings of
 * one host started together differed by up to 12 ms (-1.8 to 10.6 ms on 2026-12-07). A bound of a
 * frame and 10 ms failed once in a dozen CI runs, at a frame and 12 ms.
 */
export const SAME_PICTURE_TIMING_MS = 1000 * FRAME + 20;

/**
 * One host as the ingest forwards it: H.264 picture that inverts on the instants its audio
 * ticks, to its video ports (a decoder's, or a recording's own) and to one audio port per
 * recording.
 */
export function startHost(videoPorts: number[], audioPorts: number[]) {
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

export function sharedHost(framesPort: number, audioPort: number): InputSpec {
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

/** The same host as a recording that decodes its RTP itself receives it. */
export function decodingHost(videoPort: number, audioPort: number): InputSpec {
  return {
    ...sharedHost(0, audioPort),
    source: {
      type: 'rtp',
      video: { port: videoPort, codec: 'H264', payloadType: 96 },
      audio: { port: audioPort, codec: 'OPUS', payloadType: 111 },
    },
  };
}

/** The host's recording: it decodes its RTP itself and serves the composite's tile on `tilePort`. */
export function servingHost(videoPort: number, audioPort: number, tilePort: number): InputSpec {
  const composite = spec('composite', 'c', '/tmp', sharedHost(0, 0)).profile.video;
  return {
    ...sharedHost(0, audioPort),
    source: {
      type: 'rtp',
      video: {
        port: videoPort,
        codec: 'H264',
        payloadType: 96,
        tile: { port: tilePort, ...largestTile(composite, CAMERA) },
      },
      audio: { port: audioPort, codec: 'OPUS', payloadType: 111 },
    },
  };
}

export function spec(
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
export async function assertContinuous(snippets: DeliveredSnippet[]): Promise<void> {
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
