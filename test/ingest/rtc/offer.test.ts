import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MalformedOfferError,
  NoRecordableCodecError,
  prepareOffer,
  rtpCaps,
} from '../../../src/ingest/rtc/offer.ts';

// Shaped like a browser's offer: several video payloads with RTX, TWCC, mDNS and LAN
// candidates, and the audio m-line bundled at port 0 as GStreamer writes it.
const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 108',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'a=sendonly',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 goog-remb',
  'a=rtcp-fb:96 transport-cc',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=rtcp-fb:102 transport-cc',
  'a=rtcp-fb:102 nack pli',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
  'a=rtpmap:103 H264/90000',
  'a=rtcp-fb:103 nack pli',
  'a=rtcp-fb:103 goog-remb',
  'a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:108 H264/90000',
  'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f',
  'a=ssrc-group:FID 1 2',
  'a=candidate:1 1 udp 2122260223 192.168.1.20 50000 typ host',
  'a=candidate:2 1 udp 2122260223 abcd.local 50001 typ host',
  'a=candidate:3 1 udp 2122260223 127.0.0.1 50002 typ host',
  'a=candidate:4 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active',
  'm=audio 0 UDP/TLS/RTP/SAVPF 111 0',
  'c=IN IP4 0.0.0.0',
  'a=bundle-only',
  'a=mid:1',
  'a=sendonly',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

test('prepareOffer keeps one recordable payload per kind and nothing werift would misread', () => {
  const prepared = prepareOffer(OFFER, { loopbackOnly: true });
  assert.deepEqual(
    { ...prepared.video, fmtp: undefined },
    { kind: 'video', mid: '0', codec: 'H264', payloadType: 103, clockRate: 90000, fmtp: undefined },
  );
  assert.equal(prepared.audio?.codec, 'OPUS');
  assert.equal(prepared.audio?.payloadType, 111);
  const sdp = prepared.sdp;
  assert.match(sdp, /^m=video 9 UDP\/TLS\/RTP\/SAVPF 103\r$/m);
  assert.match(sdp, /^m=audio 9 UDP\/TLS\/RTP\/SAVPF 111\r$/m, 'bundle-only port 0 becomes 9');
  assert.doesNotMatch(sdp, /transport-cc|transport-wide-cc/);
  assert.doesNotMatch(sdp, /rtpmap:(96|97|102|108|0) /);
  assert.doesNotMatch(sdp, /ssrc-group:FID/);
  assert.match(sdp, /a=rtcp-fb:103 goog-remb/);
  const candidates = sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
  assert.deepEqual(candidates, ['a=candidate:3 1 udp 2122260223 127.0.0.1 50002 typ host']);
  assert.equal(
    rtpCaps(prepared.video!),
    'application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=103',
  );
});

test('prepareOffer keeps every candidate unless told to stay on loopback', () => {
  const { sdp } = prepareOffer(OFFER, { loopbackOnly: false });
  assert.equal(sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')).length, 4);
});

test('prepareOffer falls back to VP8 and refuses offers it cannot record', () => {
  const vp8Only = OFFER.replace(/a=rtpmap:(102|103|108) H264/g, 'a=rtpmap:$1 H265');
  assert.equal(prepareOffer(vp8Only, { loopbackOnly: true }).video?.codec, 'VP8');
  const noAudio = OFFER.replace('a=rtpmap:111 opus/48000/2', 'a=rtpmap:111 G722/8000');
  assert.throws(() => prepareOffer(noAudio, { loopbackOnly: true }), NoRecordableCodecError);
  assert.throws(() => prepareOffer('hello', { loopbackOnly: true }), MalformedOfferError);
});
