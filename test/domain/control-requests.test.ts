import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseCreateLivestream,
  parseHostControl,
  RequestError,
} from '../../src/domain/control-requests.ts';

test('a livestream is created with named hosts, a host count, or four hosts by default', () => {
  assert.deepEqual(parseCreateLivestream({ livestreamId: 'show', hosts: ['ana', 'bo'] }), {
    livestreamId: 'show',
    hostIds: ['ana', 'bo'],
  });
  assert.deepEqual(parseCreateLivestream({ hostCount: 2 }).hostIds, ['host1', 'host2']);
  assert.equal(parseCreateLivestream({}).hostIds.length, 4);
  assert.equal(parseCreateLivestream({}).livestreamId, null);
});

test('create requests that are wrong say what is wrong', () => {
  const bad: [unknown, RegExp][] = [
    [null, /JSON object/],
    [[1], /JSON object/],
    ['x', /JSON object/],
    [{ livestreamId: '../x' }, /livestreamId/],
    [{ hosts: 'ana' }, /array/],
    [{ hosts: ['ana', 'ana'] }, /duplicates/],
    [{ hosts: ['a b'] }, /hosts\[0\]/],
    [{ hosts: [] }, /1 to 16/],
    [{ hostCount: 0 }, /hostCount/],
    [{ hostCount: 17 }, /hostCount/],
    [{ hostCount: 2.5 }, /hostCount/],
    [{ hosts: ['a'], hostCount: 1 }, /not both/],
    [{ colour: 'red' }, /unknown field "colour"/],
  ];
  for (const [body, message] of bad)
    assert.throws(
      () => parseCreateLivestream(body),
      (err: Error) => err instanceof RequestError && message.test(err.message),
      JSON.stringify(body),
    );
});

test('host control events are the four camera and microphone changes', () => {
  assert.equal(parseHostControl({ event: 'camera-off' }), 'camera-off');
  for (const body of [{}, { event: 'joined' }, { event: 3 }, null])
    assert.throws(() => parseHostControl(body), RequestError);
});
