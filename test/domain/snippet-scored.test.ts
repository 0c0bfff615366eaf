import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventSchemaError } from '../../src/domain/cloudevent.ts';
import { snippetKey } from '../../src/domain/snippet-key.ts';
import {
  assertSnippetScored,
  snippetScoredEvent,
  snippetScoredProblems,
  type SnippetScored,
} from '../../src/domain/snippet-scored.ts';

const at = Date.UTC(2026, 10, 30, 8, 0, 15);
const key = snippetKey({
  livestreamId: 'ls1',
  track: 'host-h1',
  variant: 'mp4',
  startMs: at,
  seq: 1,
});

function scored(over: Partial<SnippetScored> = {}): SnippetScored {
  return {
    key,
    livestreamId: 'ls1',
    track: 'host-h1',
    seq: 1,
    start: new Date(at).toISOString(),
    end: new Date(at + 15_000).toISOString(),
    audio: { score: 100, reasons: [] },
    video: { score: 40, reasons: [{ impairment: 'black', fromSec: 2, toSec: 9 }] },
    review: true,
    reviewBelow: 60,
    ...over,
  };
}

test('a scored snippet is a valid CloudEvent whose id follows from the key', () => {
  const a = snippetScoredEvent(scored());
  const b = snippetScoredEvent(scored(), new Date(0));
  assert.equal(a.type, 'tapedeck.snippet.scored');
  assert.equal(a.subject, key);
  assert.equal(a.id, b.id, 'a redelivered snippet scored again has the same id');
  assertSnippetScored(JSON.parse(JSON.stringify(a)));
});

test('the review flag must agree with the scores and the threshold', () => {
  assert.throws(() => snippetScoredEvent(scored({ review: false })), EventSchemaError);
  assert.doesNotThrow(() =>
    snippetScoredEvent(scored({ video: { score: 100, reasons: [] }, review: false })),
  );
});

test('every problem is named: key parts, scores, reasons, an MP3 with video', () => {
  const event = snippetScoredEvent(scored());
  const bad = {
    ...event,
    data: {
      ...event.data,
      seq: 2,
      track: 'host-h2',
      audio: { score: 101, reasons: [{ impairment: 'black', fromSec: 3, toSec: 1 }] },
    },
  };
  const p = snippetScoredProblems(bad).join('\n');
  assert.match(p, /data\.seq must match the key/);
  assert.match(p, /data\.track must match the key/);
  assert.match(p, /data\.audio\.score/);
  assert.match(p, /data\.audio\.reasons\[0\]\.impairment/);
  assert.match(p, /fromSec < toSec/);
  const mp3Key = key.replace('/mp4/', '/mp3/').replace(/\.mp4$/, '.mp3');
  const mp3 = { ...event, data: { ...event.data, key: mp3Key } };
  assert.match(snippetScoredProblems(mp3).join('\n'), /video must be null/);
  assert.deepEqual(snippetScoredProblems({ ...event, type: 'x' }), [
    'type must be tapedeck.snippet.scored',
  ]);
});
