import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startsPicture } from '../../../src/ingest/rtc/picture-start.ts';

const b = (...bytes: number[]) => Uint8Array.from(bytes);

test('H.264: a parameter set or IDR slice starts a picture, alone, aggregated or fragmented', () => {
  assert.equal(startsPicture('H264', b(0x67, 0x42, 0x00)), true, 'SPS');
  assert.equal(startsPicture('H264', b(0x65, 0x88)), true, 'IDR slice');
  assert.equal(startsPicture('H264', b(0x41, 0x9a)), false, 'P slice');
  assert.equal(startsPicture('H264', b(0x68, 0xce)), false, 'PPS alone');
  // STAP-A: SPS (2 bytes) + PPS (2 bytes); then one of PPS and a P slice only.
  assert.equal(startsPicture('H264', b(0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce)), true);
  assert.equal(startsPicture('H264', b(0x78, 0, 2, 0x68, 0xce, 0, 2, 0x41, 0x9a)), false);
  assert.equal(startsPicture('H264', b(0x78, 0, 9, 0x67)), false, 'a unit past the end');
  // FU-A of an IDR: only its first fragment starts the picture.
  assert.equal(startsPicture('H264', b(0x7c, 0x85, 0x88)), true, 'FU-A start of IDR');
  assert.equal(startsPicture('H264', b(0x7c, 0x05, 0x88)), false, 'FU-A middle of IDR');
  assert.equal(startsPicture('H264', b(0x7c, 0x81, 0x9a)), false, 'FU-A start of P slice');
  assert.equal(startsPicture('H264', b()), false, 'empty');
  assert.equal(startsPicture('h264', b(0x65)), true, 'codec names in any case');
});

test('VP8: the first packet of a key frame starts a picture, with or without extensions', () => {
  assert.equal(startsPicture('VP8', b(0x10, 0x00)), true, 'S, partition 0, key frame');
  assert.equal(startsPicture('VP8', b(0x10, 0x01)), false, 'inter frame');
  assert.equal(startsPicture('VP8', b(0x00, 0x00)), false, 'not the start');
  assert.equal(startsPicture('VP8', b(0x11, 0x00)), false, 'partition 1');
  // X with a 15-bit PictureID, TL0PICIDX and TID.
  assert.equal(startsPicture('VP8', b(0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x00)), true);
  assert.equal(startsPicture('VP8', b(0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x01)), false);
  // X with a 7-bit PictureID only.
  assert.equal(startsPicture('VP8', b(0x90, 0x80, 0x12, 0x00)), true);
  assert.equal(startsPicture('VP8', b(0x90, 0x80, 0x12)), false, 'cut short');
});

test('a codec it does not know never starts a picture', () => {
  assert.equal(startsPicture('OPUS', b(0x65)), false);
  assert.equal(startsPicture('AV1', b(0x10, 0x00)), false);
});
