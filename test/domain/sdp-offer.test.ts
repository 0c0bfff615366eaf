import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOffer, planRecording, type ParsedOffer } from '../../src/domain/sdp-offer.ts';
import { CHROMIUM_OFFER, GSTREAMER_OFFER, VP9_AV1_ONLY_OFFER } from './sdp-fixtures.ts';

const T = { timeout: 5_000 };

function parsed(sdp: string): ParsedOffer {
  const r = parseOffer(sdp);
  if (!r.ok) assert.fail(`offer refused: ${r.reason}`);
  return r.offer;
}

function refusal(sdp: string, max?: number): string {
  const r = parseOffer(sdp, max);
  assert.equal(r.ok, false, 'offer should be refused');
  return r.ok ? '' : r.reason;
}

test('a Chromium offer is read section by section', T, () => {
  const offer = parsed(CHROMIUM_OFFER);
  assert.deepEqual(offer.bundles, [['0', '1']]);
  assert.equal(offer.media.length, 2);
  const [audio, video] = offer.media;
  assert.equal(audio?.kind, 'audio');
  assert.equal(audio?.mid, '0');
  assert.equal(audio?.direction, 'sendonly');
  assert.equal(audio?.port, 9);
  assert.equal(audio?.iceUfrag, 'Yw7n');
  assert.equal(audio?.icePwd, 'H7eL0Xq9xgJk3uY1bzV7cq2T');
  assert.equal(audio?.setup, 'actpass');
  assert.equal(audio?.fingerprint?.algorithm, 'sha-256');
  const opus = audio?.formats.find((f) => f.pt === 111);
  assert.deepEqual(opus, {
    pt: 111,
    codec: 'opus',
    clockRate: 48000,
    channels: 2,
    fmtp: { minptime: '10', useinbandfec: '1' },
    rtcpFb: ['transport-cc'],
  });
  assert.equal(video?.formats.length, 25);
  const h264 = video?.formats.find((f) => f.pt === 106);
  assert.equal(h264?.fmtp['profile-level-id'], '42e01f');
  assert.deepEqual(h264?.rtcpFb, ['goog-remb', 'transport-cc', 'ccm fir', 'nack', 'nack pli']);
  assert.ok(video?.formats.some((f) => f.codec === 'AV1'));
  assert.ok(video?.formats.some((f) => f.codec === 'ulpfec'));
});

test('the Chromium plan takes constrained baseline 42e01f with its rtx, and opus', T, () => {
  const r = planRecording(parsed(CHROMIUM_OFFER));
  if (!r.ok) assert.fail(r.reason);
  assert.deepEqual(
    r.plan.sections.map((s) => [s.mid, s.kind, s.codec, s.pt, s.rtxPt]),
    [
      ['0', 'audio', 'OPUS', 111, undefined],
      ['1', 'video', 'H264', 106, 107],
    ],
  );
  assert.deepEqual(r.plan.skipped, []);
});

test('a GStreamer bundle-only m-line at port 0 is carried, not rejected', T, () => {
  const offer = parsed(GSTREAMER_OFFER);
  const audio = offer.media[1];
  assert.equal(audio?.port, 0);
  assert.equal(audio?.bundleOnly, true);
  assert.equal(audio?.rejected, false);
  assert.equal(audio?.mid, 'audio1');
  const r = planRecording(offer);
  if (!r.ok) assert.fail(r.reason);
  assert.deepEqual(
    r.plan.sections.map((s) => [s.mid, s.codec, s.pt]),
    [
      ['video0', 'H264', 96],
      ['audio1', 'OPUS', 97],
    ],
  );
});

test('a port-0 section without bundle-only is rejected by the offerer and skipped', T, () => {
  const sdp = GSTREAMER_OFFER.replace('a=bundle-only\r\n', '');
  const offer = parsed(sdp);
  assert.equal(offer.media[1]?.rejected, true);
  const r = planRecording(offer);
  if (!r.ok) assert.fail(r.reason);
  assert.deepEqual(
    r.plan.sections.map((s) => s.mid),
    ['video0'],
  );
  assert.equal(r.plan.skipped[0]?.mid, 'audio1');
});

test('VP8 is taken when H.264 is absent; packetization-mode 0 is not H.264 we record', T, () => {
  const vp8 = GSTREAMER_OFFER.replace('H264/90000', 'VP8/90000');
  const r = planRecording(parsed(vp8));
  assert.ok(r.ok && r.plan.sections[0]?.codec === 'VP8');
  const pm0 = GSTREAMER_OFFER.replace('packetization-mode=1', 'packetization-mode=0');
  const r0 = planRecording(parsed(pm0));
  assert.equal(r0.ok, false);
  assert.match(r0.ok ? '' : r0.reason, /no codec we can record/);
  assert.match(r0.ok ? '' : r0.reason, /H264\/90000 packetization-mode=0/);
});

test('an offer with only VP9 and AV1 video names what was offered', T, () => {
  const r = planRecording(parsed(VP9_AV1_ONLY_OFFER));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.match(
    r.reason,
    /no codec we can record in video \(mid 1\): AV1\/90000, VP9\/90000, VP9\/90000/,
  );
  assert.ok(r.offered.some((o) => o.startsWith('audio: opus/48000/2')));
  assert.ok(!r.reason.includes('rtx'), 'helper formats are not listed as codecs');
});

test('mono or 8 kHz audio is not recordable Opus', T, () => {
  const mono = GSTREAMER_OFFER.replace('OPUS/48000/2', 'OPUS/48000/1');
  assert.equal(planRecording(parsed(mono)).ok, false);
  const pcmu = GSTREAMER_OFFER.replace(
    'm=audio 0 UDP/TLS/RTP/SAVPF 97',
    'm=audio 0 UDP/TLS/RTP/SAVPF 0',
  ).replace('a=rtpmap:97 OPUS/48000/2', 'a=rtpmap:0 PCMU/8000');
  const r = planRecording(parsed(pcmu));
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.reason, /audio \(mid audio1\): PCMU\/8000/);
});

test('an offer that only receives has nothing to record', T, () => {
  const sdp = GSTREAMER_OFFER.replaceAll('a=sendonly', 'a=recvonly');
  const r = planRecording(parsed(sdp));
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.reason, /sends no audio or video/);
});

test('a data channel section is skipped, not an error', T, () => {
  const sdp = GSTREAMER_OFFER + 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n';
  const r = planRecording(parsed(sdp));
  assert.ok(r.ok);
  assert.equal(r.ok && r.plan.skipped[0]?.kind, 'application');
});

test('session-level ICE and fingerprint are inherited by sections', T, () => {
  const sdp = [
    'v=0',
    'o=- 1 1 IN IP4 0.0.0.0',
    's=-',
    't=0 0',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:0123456789abcdefghijkl',
    'a=fingerprint:SHA-256 AA:BB',
    'a=setup:active',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'a=rtpmap:96 VP8/90000',
    '',
  ].join('\n');
  const s = parsed(sdp).media[0];
  assert.equal(s?.iceUfrag, 'abcd');
  assert.deepEqual(s?.fingerprint, { algorithm: 'sha-256', value: 'AA:BB' });
  assert.equal(s?.setup, 'active');
  assert.equal(s?.direction, 'sendrecv');
});

test('malformed offers are refused with a reason', T, () => {
  assert.match(refusal(''), /v=0/);
  assert.match(refusal('hello world'), /v=0/);
  assert.match(refusal('v=1\r\nm=video 9 RTP/AVP 96\r\n'), /v=0/);
  assert.match(refusal('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n'), /no m= line/);
  assert.match(refusal('v=0\r\nthis is not sdp\r\n'), /line 2 is not of the form/);
  assert.match(refusal('v=0\r\nM=video 9 RTP/AVP 96\r\n'), /line 2/);
  assert.match(refusal('v=0\r\nm=video\r\n'), /malformed m= line/);
  assert.match(refusal('v=0\r\nm=video 99999 RTP/AVP 96\r\n'), /out of range/);
  assert.match(refusal('v=0\r\nm=video 9 RTP/AVP 300\r\n'), /payload type "300"/);
  assert.match(refusal('v=0\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:96 VP8\r\n'), /malformed rtpmap/);
  assert.match(refusal('v=0\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:97 VP8/90000\r\n'), /not listed/);
  assert.match(refusal('v=0\r\nm=video 9 RTP/AVP 96\r\na=x\u0000y\r\n'), /control character/);
  assert.match(refusal('v=0\r\nm=video 9 RTP/AVP 96\r\na=fingerprint:sha-256\r\n'), /fingerprint/);
  assert.match(refusal(CHROMIUM_OFFER, 1000), /over 1000 bytes/);
  assert.match(refusal(GSTREAMER_OFFER.replace('a=mid:video0', 'a=mid:')), /empty mid/);
});
