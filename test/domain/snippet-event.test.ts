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
