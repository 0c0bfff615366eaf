import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkImpairments,
  ImpairmentPlanError,
  impairmentSteps,
  parseImpairment,
} from '../../src/domain/impairment-plan.ts';

test('parseImpairment reads HOST:KIND:FROM-TO', { timeout: 5_000 }, () => {
  assert.deepEqual(parseImpairment('1:black:10-20', 4, 60), {
    host: 1,
    kind: 'black',
    fromSec: 10,
    toSec: 20,
  });
  assert.deepEqual(parseImpairment(' 4:noise:2-7 ', 4, 60), {
    host: 4,
    kind: 'noise',
    fromSec: 2,
    toSec: 7,
  });
});

test('parseImpairment refuses what it cannot carry out, saying why', { timeout: 5_000 }, () => {
  const cases: [string, RegExp][] = [
    ['black', /HOST:KIND:FROM-TO/],
    ['5:black:1-2', /host must be 1 to 4/],
    ['0:black:1-2', /host must be 1 to 4/],
    ['1:blurry:1-2', /kind must be one of black, frozen, silence, clipping, noise/],
    ['1:black:5-5', /end after it starts/],
    ['1:black:50-70', /ends after the demo does \(60 s\)/],
    ['1:black:-1-3', /not understood/],
  ];
  for (const [text, why] of cases)
    assert.throws(
      () => parseImpairment(text, 4, 60),
      (e: Error) => {
        assert.ok(e instanceof ImpairmentPlanError);
        assert.match(e.message, why);
        return true;
      },
    );
});

test(
  'two impairments of one medium of one host at once are refused; of two media they are not',
  { timeout: 5_000 },
  () => {
    const p = (s: string) => parseImpairment(s, 4, 60);
    assert.throws(
      () => checkImpairments([p('1:black:10-20'), p('1:frozen:15-25')]),
      /host 1 cannot have black .* and frozen .* at once: both are video/,
    );
    checkImpairments([p('1:black:10-20'), p('1:silence:15-25'), p('2:frozen:15-25')]);
    checkImpairments([p('1:black:10-20'), p('1:frozen:20-25')]);
  },
);

test('impairmentSteps tells a host everything in force at each change', { timeout: 5_000 }, () => {
  const p = (s: string) => parseImpairment(s, 4, 60);
  assert.deepEqual(impairmentSteps([p('1:black:10-20'), p('1:silence:15-25'), p('2:noise:5-8')]), [
    { atSec: 5, host: 2, commands: ['impair none', 'impair noise'] },
    { atSec: 8, host: 2, commands: ['impair none'] },
    { atSec: 10, host: 1, commands: ['impair none', 'impair black'] },
    { atSec: 15, host: 1, commands: ['impair none', 'impair black', 'impair silence'] },
    { atSec: 20, host: 1, commands: ['impair none', 'impair silence'] },
    { atSec: 25, host: 1, commands: ['impair none'] },
  ]);
  assert.deepEqual(impairmentSteps([]), []);
});
