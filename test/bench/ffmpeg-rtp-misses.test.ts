import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runFfmpegRecorder } from '../../src/bench/ffmpeg-recorder.ts';
import { RtpMissCounter } from '../../src/bench/ffmpeg-rtp-misses.ts';
import { freeRtpPort, rtpSdp } from '../../src/bench/system/ffmpeg-contender.ts';
import { spawnTracked, stopTracked } from '../support/children.ts';

describe('RtpMissCounter', { timeout: 5_000 }, () => {
  it('adds up the missed and too-late packets, also across split chunks', () => {
    const c = new RtpMissCounter();
    c.push('[sdp @ 0x55] RTP: missed 3 packets\n[sdp @ 0x55] Non-monotonous DTS\n[sdp @ 0x5');
    c.push('5] RTP: mis');
    assert.equal(c.missed, 3);
    c.push('sed 12 packets\r\n[sdp @ 0x55] RTP: dropping old packet received too late\n');
    assert.equal(c.missed, 16);
    c.push('[sdp @ 0x55] RTP: missed 1 packets');
    assert.equal(c.missed, 17, 'a last line without its newline counts too');
    assert.equal(new RtpMissCounter().missed, 0);
  });
});

/**
 * ffmpeg sends Opus over RTP to a relay on 127.0.0.1 that forwards to the recorder, leaving out
 * `dropEvery`-th packets (0: none); resolves with what the relay left out and what the recorder
 * said it missed.
 */
async function relayRun(dropEvery: number): Promise<{ dropped: number; missed: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tapedeck-rtp-misses-'));
  const relay = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', resolve));
    const target = await freeRtpPort(new Set());
    const sdp = join(dir, 'in.sdp');
    writeFileSync(
      sdp,
      rtpSdp('relay', null, {
        port: target,
        codec: { codec: 'OPUS', payloadType: 111, clockRate: 48000, fmtp: '' },
      }),
    );
    const recorder = runFfmpegRecorder({
      kind: 'audio',
      inputs: 1,
      durationSec: Infinity,
      outDir: join(dir, 'out'),
      canvas: { width: 2, height: 2 },
      fps: 15,
      gopFrames: 5,
      videoKbps: 100,
      preset: 'superfast',
      audioKbps: 44,
      audioChannels: 2,
      snippetSec: 15,
      sdpInputs: [sdp],
    });
    let seen = 0;
    let dropped = 0;
    relay.on('message', (packet) => {
      seen += 1;
      // Never the first packets: the recorder has to know the stream before a gap means anything.
      if (dropEvery > 0 && seen > 20 && seen % dropEvery === 0) dropped += 1;
      else relay.send(packet, target, '127.0.0.1');
    });
    // Its socket open before the first packet.
    await new Promise((r) => setTimeout(r, 1_000));
    const { port } = relay.address();
    const sender = spawnTracked('ffmpeg', [
      ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-re'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '6'],
      ...['-ac', '2', '-c:a', 'libopus', '-b:a', '64k', '-payload_type', '111'],
      ...['-f', 'rtp', `rtp://127.0.0.1:${port}`],
    ]);
    const sent = await new Promise<number | null>((resolve) => sender.once('exit', resolve));
    assert.equal(sent, 0, 'the sender ran to its end');
    // What is still queued in the recorder's reorder buffer is judged on the way out.
    await new Promise((r) => setTimeout(r, 1_000));
    // Its exit code says nothing here: with the sender gone ffmpeg may already have given up
    // waiting for packets.
    await recorder.stop('SIGINT');
    await stopTracked(sender);
    assert.ok(seen > 250, `${seen} packets in 6 s of 20-ms Opus`);
    return { dropped, missed: recorder.rtpMissed() };
  } finally {
    relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('an ffmpeg recorder reading RTP (live)', { timeout: 60_000 }, () => {
  it('says how many packets never reached it', { timeout: 30_000 }, async () => {
    const { dropped, missed } = await relayRun(25);
    assert.ok(dropped >= 10, `${dropped} left out`);
    assert.equal(missed, dropped);
  });

  it('misses nothing when nothing is left out', { timeout: 30_000 }, async () => {
    assert.deepEqual(await relayRun(0), { dropped: 0, missed: 0 });
  });
});
