import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEvent, encodeEvent, EventSchemaError } from '../../src/domain/cloudevent.ts';
import {
  assertSnippetReady,
  snippetEventId,
  snippetReadyEvent,
  snippetReadyProblems,
  type SnippetReady,
} from '../../src/domain/snippet-event.ts';
import { snippetKey } from '../../src/domain/snippet-key.ts';

const T = { timeout: 5_000 };
const startMs = Date.UTC(2026, 10, 30, 8, 45, 12, 0);

function sample(over: Partial<SnippetReady> = {}): SnippetReady {
  const key = snippetKey({
    livestreamId: 'show',
    track: 'host-ana',
    variant: 'mp4',
    startMs,
    seq: 4,
  });
  return {
    livestreamId: 'show',
    recordingId: 'host-ana',
    track: 'host-ana',
    hostId: 'ana',
    variant: 'mp4',
    seq: 4,
    start: new Date(startMs).toISOString(),
    end: new Date(startMs + 15_000).toISOString(),
    durationMs: 15_000,
    bytes: 9_600_000,
    sha256: 'a'.repeat(64),
    key,
    media: {
      container: 'mp4',
      video: { codec: 'h264', width: 640, height: 360, fps: 15, bitrateKbps: 5000 },
      audio: { codec: 'aac', sampleRate: 48000, channels: 2, bitrateKbps: 44 },
    },
    ...over,
  };
}

test('a snippet event is a valid CloudEvent with a stable id', T, () => {
  const a = snippetReadyEvent(sample(), new Date(startMs + 16_000));
  const b = snippetReadyEvent(sample(), new Date(startMs + 99_000));
  assert.equal(a.id, b.id, 'the same snippet gets the same id whenever it is announced');
  assert.equal(a.id, snippetEventId(a.data.key));
  assert.equal(a.subject, a.data.key);
  const round = decodeEvent(encodeEvent(a));
  assert.deepEqual(round, a);
  assertSnippetReady(round);
  const other = snippetReadyEvent(
    sample({
      seq: 5,
      key: snippetKey({ livestreamId: 'show', track: 'host-ana', variant: 'mp4', startMs, seq: 5 }),
    }),
  );
  assert.notEqual(other.id, a.id);
});

test('consumers refuse events that break the schema, saying what is wrong', T, () => {
  const good = snippetReadyEvent(sample());
  const cases: Array<
    [string, (e: Record<string, unknown> & { data: Record<string, unknown> }) => void, RegExp]
  > = [
    ['wrong spec', (e) => (e.specversion = '0.3'), /specversion/],
    ['bad id', (e) => (e.id = 'x'), /stable id/],
    ['bad sha', (e) => (e.data.sha256 = 'XYZ'), /sha256/],
    ['key mismatch', (e) => (e.data.seq = 5), /data.key must be/],
    ['end before start', (e) => (e.data.end = e.data.start), /after data.start/],
    ['host mismatch', (e) => (e.data.hostId = 'bob'), /hostId/],
    [
      'video in mp3',
      (e) => ((e.data.media as Record<string, unknown>).container = 'mp3'),
      /container|codec/,
    ],
    ['path in id', (e) => (e.data.livestreamId = '../x'), /livestreamId/],
  ];
  for (const [name, mutate, expected] of cases) {
    const e = structuredClone(good) as unknown as Record<string, unknown> & {
      data: Record<string, unknown>;
    };
    mutate(e);
    const problems = snippetReadyProblems(e);
    assert.ok(
      problems.some((p) => expected.test(p)),
      `${name}: ${problems.join('; ')}`,
    );
    assert.throws(() => assertSnippetReady(e), EventSchemaError);
  }
  assert.throws(() => decodeEvent('{not json'), EventSchemaError);
  assert.throws(() => decodeEvent('[]'), /not a JSON object/);
});

test("an MP4 snippet's event carries its pictures as recorded; they are checked", T, () => {
  const pictures = Array.from({ length: 30 }, (_, i) => ({
    atSec: i / 2,
    lumaMean: 120,
    lumaStdDev: 70,
    lumaChange: i === 0 ? 0 : 12.5,
  }));
  const event = snippetReadyEvent(sample({ pictures }));
  assert.deepEqual(decodeEvent(encodeEvent(event)).data, event.data);
  const problems = (over: Partial<SnippetReady>) =>
    snippetReadyProblems({ ...event, data: { ...event.data, ...over } });
  assert.deepEqual(problems({}), []);
  assert.deepEqual(problems({ pictures: [] }), ['data.pictures must not be empty']);
  assert.deepEqual(problems({ pictures: [...pictures, { ...pictures[0]!, atSec: 15.5 }] }), [
    "data.pictures[30].atSec must be a number from 0 to the snippet's duration",
  ]);
  assert.deepEqual(problems({ pictures: [pictures[1]!, pictures[0]!] }), [
    'data.pictures[1].atSec must be after the window before it',
  ]);
  assert.deepEqual(problems({ pictures: [{ ...pictures[0]!, lumaMean: 300 }] }), [
    'data.pictures[0].lumaMean must be 0 to 255',
  ]);
  assert.deepEqual(problems({ pictures: 'dark' as never }), ['data.pictures must be an array']);
  const mp3 = sample({
    variant: 'mp3',
    key: snippetKey({ livestreamId: 'show', track: 'host-ana', variant: 'mp3', startMs, seq: 4 }),
    media: {
      container: 'mp3',
      video: null,
      audio: { codec: 'mp3', sampleRate: 48000, channels: 2, bitrateKbps: 48 },
    },
    pictures,
  });
  assert.throws(() => snippetReadyEvent(mp3), /data.pictures is for mp4 snippets only/);
});
