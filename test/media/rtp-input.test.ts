import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { defaultProfile } from '../../src/domain/profile.ts';
import { runSyntheticRecording } from '../../src/media/synthetic-recording.ts';
import { spawnTracked, stopTracked } from '../support/children.ts';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A free loopback UDP port pair (even RTP port, as tools expect). */
async function udpPort(): Promise<number> {
  for (;;) {
    const s = createSocket('udp4');
    const port = await new Promise<number>((resolve) =>
      s.bind(0, '127.0.0.1', () => resolve(s.address().port)),
    );
    s.close();
    if (port % 2 === 0 && port < 65000) return port;
  }
}

test(
  "a port another receiver already holds fails the recording's start, rather than sharing the host's packets with it",
  { timeout: 60_000 },
  async () => {
    const out = await tempDir('rtp-taken');
    dirs.push(out);
    // Bound with SO_REUSEADDR, as another recorder's udpsrc would be: a second socket that sets it
    // too would bind beside it, and the kernel would give every packet to one of the two.
    const holder = createSocket({ type: 'udp4', reuseAddr: true });
    const port = await new Promise<number>((resolve) =>
      holder.bind(0, '127.0.0.1', () => resolve(holder.address().port)),
    );
    try {
      await assert.rejects(
        runSyntheticRecording({
          spec: {
            kind: 'audio',
            recordingId: 'taken',
            outDir: out,
            profile: defaultProfile({ width: 640, height: 360 }),
            inputs: [
              {
                id: 'ana',
                displayName: 'Ana',
                cameraOn: false,
                source: {
                  type: 'rtp',
                  video: null,
                  audio: { port, codec: 'OPUS', payloadType: 111 },
                },
              },
            ],
          },
          durationSec: 3,
        }),
        (err: Error) => {
          console.log(`the start failed: ${err.message}`);
          assert.match(err.message, /Address already in use/);
          return true;
        },
      );
    } finally {
      holder.close();
    }
  },
);

test(
  'a host arriving as RTP on loopback (H.264 + Opus) is recorded at the output size',
  { timeout: 120_000 },
  async () => {
    const out = await tempDir('rtp');
    dirs.push(out);
    const [videoPort, audioPort] = [await udpPort(), await udpPort()];
    // The sender stands in for the WebRTC ingest: what reaches the pipeline is plain RTP over UDP,
    // at a size (320x240) that the recording must scale to its own.
    const sender = spawnTracked(
      'gst-launch-1.0',
      [
        '-q',
        ...`videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc tune=zerolatency key-int-max=30 bitrate=800 ! rtph264pay pt=102 config-interval=-1 ! udpsink host=127.0.0.1 port=${videoPort}`.split(
          ' ',
        ),
        ...`audiotestsrc is-live=true freq=440 ! opusenc ! rtpopuspay pt=111 ! udpsink host=127.0.0.1 port=${audioPort}`.split(
          ' ',
        ),
      ],
      { stdio: 'ignore' },
    );
    try {
      const summary = await runSyntheticRecording({
        spec: {
          kind: 'host',
          recordingId: 'rtp',
          outDir: out,
          profile: { ...defaultProfile({ width: 640, height: 360 }), snippetSeconds: 3 },
          inputs: [
            {
              id: 'ana',
              displayName: 'Ana',
              cameraOn: true,
              source: {
                type: 'rtp',
                video: { port: videoPort, codec: 'H264', payloadType: 102 },
                audio: { port: audioPort, codec: 'OPUS', payloadType: 111 },
              },
            },
          ],
        },
        durationSec: 8,
      });
      assert.ok(summary.snippets.length >= 3, `${summary.snippets.length} snippets`);
      // Snippets keep to the 3-s grid of the pipeline's clock: on a loaded machine the first one
      // can start late and be shorter, the next one is whole.
      const first = summary.snippets[0]!;
      assert.ok(first.durationSec > 0 && first.durationSec < 3.01, `${first.durationSec} s`);
      const second = summary.snippets[1]!;
      assert.ok(Math.abs(second.durationSec - 3) < 0.01, `${second.durationSec} s`);
      const info = await probeMedia(first.location);
      assert.deepEqual([info.video?.width, info.video?.height], [640, 360]);
      assert.equal(info.audio?.codec, 'aac');
      assert.equal(await decodeErrors(first.location), '');
    } finally {
      await stopTracked(sender, 'SIGKILL');
    }
  },
);
