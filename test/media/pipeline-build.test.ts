import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProfile } from '../../src/domain/profile.ts';
import { buildPipeline, placeInputs } from '../../src/media/pipeline/build.ts';
import { mp3Bitrate } from '../../src/media/pipeline/encoders.ts';
import {
  MIXER_LATENCY_NS,
  mixerLatencyNs,
  SHARED_PICTURE_LATENCY_NS,
} from '../../src/media/pipeline/mixer-latency.ts';
import { sharedDecoderPipeline } from '../../src/media/pipeline/shared-decoder.ts';
import {
  SpecError,
  type RecordingSpec,
  type RtpVideo,
  type SharedVideo,
} from '../../src/media/pipeline/spec.ts';
import { syntheticHost } from '../../src/media/synthetic-recording.ts';

const T = { timeout: 5_000 };
const composite = (n: number, extra: Partial<RecordingSpec> = {}): RecordingSpec => ({
  kind: 'composite',
  recordingId: 'show-1',
  outDir: '/spool',
  profile: defaultProfile({ width: 360, height: 640 }),
  inputs: Array.from({ length: n }, (_, i) => syntheticHost(i + 1)),
  ...extra,
});

test('composite: encoders at the profile, exact snippets, crash-safe MP4', T, () => {
  const b = buildPipeline(composite(4));
  assert.equal(b.location, '/spool/show-1_%06d.mp4');
  for (const part of [
    'video/x-raw,format=I420,width=360,height=640,framerate=15/1',
    'x264enc name=venc bitrate=5000',
    'key-int-max=5 threads=1 option-string=scenecut=0',
    'video/x-h264,profile=main',
    'voaacenc name=aenc bitrate=44000',
    'max-size-time=15000000000 send-keyframe-requests=true async-finalize=true',
    'reserved-moov-update-period=(guint64)1000000000',
    'reserved-max-duration=(guint64)20000000000',
  ])
    assert.ok(b.launch.includes(part), `missing ${part}`);
  assert.ok(!b.launch.includes('rtmp2sink') && !b.launch.includes('hlssink2'));
  // 4 cameras, 4 placeholders, the base picture: 9 compositor pads, each input linked.
  for (let i = 1; i <= 4; i++) assert.ok(b.launch.includes(`in_h${i}_v. ! vmix.sink_${2 * i - 1}`));
  assert.ok(!b.core.includes('in_h1'), 'core has no inputs');
});

test('one encoder feeds recording, RTMP and HLS through tees', T, () => {
  const b = buildPipeline(
    composite(2, { rtmpUrl: 'rtmp://127.0.0.1:1935/live/s', hlsDir: '/hls' }),
  );
  assert.equal(b.launch.match(/x264enc/g)?.length, 1);
  assert.equal(b.launch.match(/voaacenc/g)?.length, 1);
  for (const part of [
    'vtee. ! queue name=rec_vq',
    'vtee. ! valve name=rtmp_vv drop=false',
    'queue name=rtmp_vq leaky=downstream',
    'vtee. ! queue name=hls_vq',
    'errorignore',
    'rtmp2sink name=rtmp_sink location="rtmp://127.0.0.1:1935/live/s"',
    'playlist-location="/hls/live.m3u8"',
  ])
    assert.ok(b.launch.includes(part), `missing ${part}`);
});

test(
  'the pictures scoring measures are taken before the encoder, without touching its rate',
  T,
  () => {
    const without = buildPipeline(composite(2));
    assert.ok(!without.core.includes('vraw') && !without.core.includes('appsink'));
    const b = buildPipeline(composite(2), { picturesDir: '/tmp/p 1' });
    for (const part of [
      // The encoder's branch names its rate after the tee: the thinning is for the pictures only.
      'queue name=venc_q max-size-time=1000000000 ! tee name=vraw ! video/x-raw,framerate=15/1 ! x264enc',
      'vraw. ! videorate drop-only=true max-rate=2 ! videoscale ! video/x-raw,width=64,height=36',
      'video/x-raw,format=GRAY8 ! tee name=picture_tee ! appsink name=pictures',
      'max-buffers=0 drop=false wait-on-eos=false',
      'picture_tee. ! multifilesink name=picture_files location="/tmp/p 1/%06d.gray" max-files=120',
    ])
      assert.ok(b.core.includes(part), `missing ${part}`);
    const audio = buildPipeline(
      { ...composite(1), kind: 'audio', inputs: [syntheticHost(1)] },
      { picturesDir: '/tmp/p' },
    );
    assert.ok(!audio.core.includes('appsink'), 'an audio recording takes no pictures');
  },
);

test('host is 640x360 MP4 with one input; audio is MP3 only', T, () => {
  const host = buildPipeline({
    ...composite(1),
    kind: 'host',
    profile: defaultProfile({ width: 640, height: 360 }),
  });
  assert.ok(host.launch.includes('width=640,height=360'));
  assert.ok(host.location.endsWith('.mp4'));
  const audio = buildPipeline({ ...composite(1), kind: 'audio' });
  assert.ok(audio.location.endsWith('.mp3'));
  assert.ok(audio.launch.includes('lamemp3enc') && audio.launch.includes('muxer-factory=id3v2mux'));
  assert.ok(!audio.launch.includes('x264enc') && !audio.launch.includes('compositor'));
  assert.ok(audio.launch.includes('buffer-mode=unbuffered'));
  assert.equal(mp3Bitrate(44), 48);
  // Audio alone moves in 100 ms buffers, from every source through the mixer; with video, 40 ms.
  assert.match(audio.launch, /output-buffer-duration=100000000 /);
  assert.equal(audio.launch.match(/samplesperbuffer=(\d+)/g)?.length, 2);
  assert.ok(audio.launch.match(/samplesperbuffer=(\d+)/g)!.every((m) => m.endsWith('=4800')));
  assert.match(host.launch, /output-buffer-duration=40000000 /);
  // The hosts' sound moves in 40 ms buffers; the silent base, which only keeps the mixer's
  // timeline, in 100 ms, and the black base picture at the placeholders' 5 fps.
  const [base, ...hostSound] = host.launch.match(/samplesperbuffer=(\d+)/g)!;
  assert.match(
    host.launch,
    /wave=silence samplesperbuffer=4800 ! audio\/x-raw,rate=48000,channels=1 ! amix\./,
  );
  assert.equal(base, 'samplesperbuffer=4800');
  assert.ok(hostSound.length > 0 && hostSound.every((m) => m.endsWith('=1920')));
  assert.match(
    host.launch,
    /pattern=black ! video\/x-raw,width=16,height=16,framerate=5\/1 ! vmix\.sink_0/,
  );
});

test('bad specs are refused before any element exists', T, () => {
  assert.throws(() => buildPipeline(composite(10)), SpecError);
  assert.throws(() => buildPipeline({ ...composite(2), kind: 'host' }), SpecError);
  assert.throws(() => buildPipeline(composite(1, { rtmpUrl: 'http://x/y' })), SpecError);
  assert.throws(() => buildPipeline({ ...composite(1), recordingId: '../x' }), /not a valid id/);
  const twice = composite(2);
  twice.inputs[1] = { ...twice.inputs[1]!, id: 'h1' };
  assert.throws(() => buildPipeline(twice), /twice/);
  assert.throws(
    () => buildPipeline({ ...composite(1), kind: 'audio', rtmpUrl: 'rtmp://a/b/c' }),
    SpecError,
  );
});

test('a display name cannot break out of its quotes', T, () => {
  const spec = composite(1);
  spec.inputs[0] = { ...spec.inputs[0]!, displayName: 'Evil" ! filesink location="/etc/x' };
  const b = buildPipeline(spec);
  assert.ok(b.launch.includes('text="Evil\\" ! filesink location=\\"/etc/x"'));
});

test('camera off swaps the picture for the placeholder in the same cell', T, () => {
  const spec = composite(2);
  spec.inputs[1] = { ...spec.inputs[1]!, cameraOn: false };
  const [a, b] = placeInputs(spec, spec.inputs);
  assert.equal(a!.video.alpha, 1);
  assert.equal(a!.placeholder.alpha, 0);
  assert.equal(b!.video.alpha, 0);
  assert.equal(b!.placeholder.alpha, 1);
  assert.equal(b!.placeholder.y, b!.video.y);
  assert.ok(b!.placeholder.zorder > b!.video.zorder);
});

test(
  'a WebRTC host is read from loopback UDP: jitter buffer, depayloader, decoder, fixed size',
  T,
  () => {
    const spec = composite(0);
    spec.inputs = [
      {
        id: 'ana',
        displayName: 'Ana',
        cameraOn: true,
        source: {
          type: 'rtp',
          video: { port: 40000, codec: 'H264', payloadType: 102 },
          audio: { port: 40002, codec: 'OPUS', payloadType: 111 },
        },
      },
      {
        id: 'bo',
        displayName: 'Bo',
        cameraOn: true,
        source: { type: 'rtp', video: { port: 40004, codec: 'VP8', payloadType: 96 }, audio: null },
      },
    ];
    const b = buildPipeline(spec);
    for (const part of [
      'udpsrc address=127.0.0.1 port=40000 reuse=false buffer-size=4194304 caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=102" ! rtpjitterbuffer latency=100 mode=slave',
      'rtph264depay request-keyframe=true ! h264parse ! avdec_h264 ! videorate max-duplication-time=1000000000 ! video/x-raw,framerate=15/1 ! videoconvertscale add-borders=true ! video/x-raw,format=I420,width=640,height=360,pixel-aspect-ratio=1/1 ! queue name=in_ana_v',
      // Named: the recording starts the microphone's socket only once it plays.
      'udpsrc address=127.0.0.1 port=40002 reuse=false buffer-size=4194304 name=in_ana_as caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111" ! rtpjitterbuffer name=in_ana_aj latency=100 mode=synced',
      'rtpopusdepay ! opusdec plc=true ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! queue name=in_ana_a',
      'rtpvp8depay request-keyframe=true ! vp8dec',
      // No microphone track: the host still has an audio branch, silent, so the mix keeps its shape.
      'audiotestsrc is-live=true wave=silence samplesperbuffer=1920 timestamp-offset=0 ! audio/x-raw,rate=48000,channels=1 ! queue name=in_bo_a',
    ])
      assert.ok(b.launch.includes(part), part);
    assert.doesNotMatch(
      b.launch,
      /textoverlay text="Ana" valignment=top/,
      'a real camera gets no name overlay',
    );
    assert.match(b.launch, /text="Ana\ncamera off"/, 'but the placeholder names the host');
  },
);

test(
  'a WebRTC camera with a feedback port reports back over RTCP; without one it does not',
  T,
  () => {
    const spec = composite(0);
    const host = (id: string, feedbackPort?: number): RecordingSpec['inputs'][number] => ({
      id,
      displayName: id,
      cameraOn: true,
      source: {
        type: 'rtp',
        video: {
          port: 40000,
          codec: 'H264',
          payloadType: 102,
          ...(feedbackPort === undefined ? {} : { feedbackPort }),
        },
        audio: null,
      },
    });
    spec.inputs = [host('ana', 41000), host('bo-2', 41002)];
    const b = buildPipeline(spec);
    for (const [id, port] of [
      ['ana', 41000],
      ['bo-2', 41002],
    ] as const)
      for (const part of [
        `rtpsession name=in_${id}_vs rtp-profile=avpf udpsrc address=127.0.0.1 port=40000 reuse=false buffer-size=4194304 retrieve-sender-address=false ` +
          'caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=102,rtcp-fb-nack-pli=(int)1,rtcp-fb-nack=(int)1" ' +
          `! in_${id}_vs.recv_rtp_sink`,
        `in_${id}_vs.send_rtcp_src ! udpsink host=127.0.0.1 port=${port} sync=false async=false`,
        // The video jitter buffer keeps its mode and latency behind the session.
        `in_${id}_vs.recv_rtp_src ! rtpssrcdemux ! rtpjitterbuffer latency=100 mode=slave ! rtpptdemux ! rtph264depay request-keyframe=true`,
      ])
        assert.ok(b.launch.includes(part), part);
    assert.equal(b.launch.match(/rtpsession name=/g)?.length, 2, 'one session per camera');

    spec.inputs = [host('ana')];
    const plain = buildPipeline(spec).launch;
    for (const absent of ['rtpsession', 'rtcp-fb', 'udpsink', 'rtpssrcdemux', 'rtpptdemux'])
      assert.ok(!plain.includes(absent), `${absent} without a feedback port`);
    assert.ok(plain.includes('! rtpjitterbuffer latency=100 mode=slave ! rtph264depay'));
  },
);

/** A host's recording (or a composite) of one WebRTC host, whose picture comes as `video`. */
function rtpHost(kind: 'host' | 'composite', video: RtpVideo | SharedVideo): RecordingSpec {
  return {
    kind,
    recordingId: 'h1',
    outDir: '/tmp/out',
    profile: defaultProfile({ width: 640, height: 360 }),
    inputs: [
      {
        id: 'ana',
        displayName: 'Ana',
        cameraOn: true,
        source: { type: 'rtp', video, audio: { port: 5002, codec: 'OPUS', payloadType: 111 } },
      },
    ],
  };
}

test('a shared picture is read from its decoder, with its timestamps', T, () => {
  const full = buildPipeline(rtpHost('host', { framesPort: 7100 })).launch;
  assert.match(
    full,
    /tcpclientsrc name=in_ana_frames host=127.0.0.1 port=7100 ! gdpdepay ! queue name=in_ana_v /,
  );
  // No decode of its own: the only H.264 element is the encoder.
  assert.doesNotMatch(full, /avdec_h264|rtph264depay|port=0/);
  assert.match(
    full,
    /udpsrc address=127.0.0.1 port=5002 [^!]*! rtpjitterbuffer name=in_ana_aj latency=100 mode=synced !/,
  );
});

test('mixers wait for late inputs, longer when a picture comes from a shared decoder', T, () => {
  // At least as long again as the longest an input reports (a 5-fps placeholder tile's frame).
  assert.ok(MIXER_LATENCY_NS >= 1e9 / 5);
  assert.ok(SHARED_PICTURE_LATENCY_NS > MIXER_LATENCY_NS);
  const plain = { video: MIXER_LATENCY_NS, audio: MIXER_LATENCY_NS };
  assert.deepEqual(mixerLatencyNs(composite(4)), plain);
  assert.deepEqual(mixerLatencyNs(composite(0, { sharedPictures: false })), plain);
  const shared = { video: SHARED_PICTURE_LATENCY_NS, audio: MIXER_LATENCY_NS };
  assert.deepEqual(mixerLatencyNs(composite(0, { sharedPictures: true })), shared);
  const fromDecoder = syntheticHost(1);
  const input = {
    ...fromDecoder,
    source: { type: 'rtp' as const, video: { framesPort: 7100 }, audio: null },
  };
  assert.deepEqual(mixerLatencyNs(composite(0, { inputs: [input] })), shared);
});

test('a shared decoder decodes as a recording would and serves the frames on loopback', T, () => {
  const description = sharedDecoderPipeline({
    video: { port: 5000, codec: 'VP8', payloadType: 100, feedbackPort: 5001 },
    framesPort: 7100,
    fps: 15,
  });
  assert.match(description, /rtpsession name=dec_vs .* port=5001 /);
  assert.match(
    description,
    /rtpvp8depay request-keyframe=true ! vp8dec ! videorate drop-only=true max-rate=15 !.* ! gdppay ! tcpserversink/,
  );
  assert.match(description, /tcpserversink host=127.0.0.1 port=7100 /);
  // A reader that falls behind is moved on to the newest frame rather than holding the rest up.
  assert.match(description, /units-soft-max=\d+ recover-policy=latest/);
});

test(
  "a host's recording that serves tiles splits its decode before pacing, and serves it scaled",
  T,
  () => {
    const tiled = (kind: 'host' | 'composite', tile = { port: 7200, width: 360, height: 202 }) =>
      rtpHost(kind, { port: 5000, codec: 'H264', payloadType: 96, feedbackPort: 5001, tile });
    const launch = buildPipeline(tiled('host')).launch;
    // The recording's own picture is paced and repeated as ever, after the split.
    assert.match(
      launch,
      /avdec_h264 ! tee name=in_ana_vt allow-not-linked=true ! videorate max-duplication-time=\d+ ! video\/x-raw,framerate=15\/1 ! videoconvertscale add-borders=true ! video\/x-raw,format=I420,width=640,height=360/,
    );
    // The tiles are only dropped to the rate, at their own times, and scaled to the tile.
    assert.match(
      launch,
      /in_ana_vt\. ! queue name=tile_ana_q [^!]*leaky=downstream ! videorate drop-only=true max-rate=15 ! videoconvertscale add-borders=true ! video\/x-raw,format=I420,width=360,height=202,pixel-aspect-ratio=1\/1 ! gdppay ! tcpserversink name=tile_ana_sink host=127.0.0.1 port=7200 /,
    );
    assert.equal(launch.match(/avdec_h264/g)?.length, 1, 'one decode for both');
    assert.throws(
      () => buildPipeline(tiled('composite')),
      /only a host's own recording serves tiles/,
    );
    assert.throws(
      () => buildPipeline(tiled('host', { port: 7200, width: 361, height: 202 })),
      /even/,
    );
  },
);
