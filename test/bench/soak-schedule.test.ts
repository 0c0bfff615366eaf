import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  countByKind,
  FAULT_KINDS,
  faultCount,
  MIN_SPACING_SEC,
  parseKindList,
  planFaults,
  type ScheduleOptions,
} from '../../src/bench/soak/schedule.ts';
import { seededRandom } from '../../src/bench/seeded-random.ts';

const base: ScheduleOptions = {
  seed: 7,
  minutes: 30,
  livestreams: 1,
  hosts: 4,
  workerSlots: 2,
  everySec: 40,
  leadSec: 20,
  tailSec: 25,
};

describe('soak fault schedule', () => {
  it('is the same for the same seed and different for another', { timeout: 5_000 }, () => {
    assert.deepEqual(planFaults(base), planFaults(base));
    assert.notDeepEqual(planFaults(base), planFaults({ ...base, seed: 8 }));
    const a = seededRandom(1);
    const values = Array.from({ length: 1000 }, () => a());
    assert.ok(values.every((v) => v >= 0 && v < 1));
    assert.ok(new Set(values).size > 990);
  });

  it(
    'gives a 30-minute run at least 30 faults, every kind several times',
    { timeout: 5_000 },
    () => {
      const plan = planFaults(base);
      assert.ok(plan.length >= 30, `${plan.length}`);
      const byKind = countByKind(plan);
      for (const k of FAULT_KINDS) assert.ok(byKind[k] >= 4, `${k}: ${byKind[k]}`);
    },
  );

  it(
    'keeps faults inside the window, in order, spaced, never the same kind twice in a row',
    { timeout: 5_000 },
    () => {
      for (const seed of [1, 2, 3, 99, 12345]) {
        for (const minutes of [2, 5, 30, 120]) {
          const plan = planFaults({ ...base, seed, minutes, everySec: 15 });
          assert.ok(plan.length >= minutes, `${minutes} min: ${plan.length}`);
          for (const [i, f] of plan.entries()) {
            assert.equal(f.index, i);
            assert.ok(
              f.atSec >= base.leadSec && f.atSec <= minutes * 60 - base.tailSec,
              `${f.atSec}`,
            );
            assert.ok(f.host >= 1 && f.host <= 4);
            assert.ok(f.slot === 0 || f.slot === 1);
            assert.ok(f.pick >= 0 && f.pick < 1);
            if (f.kind === 'host-drop')
              assert.ok(f.downSec >= 2 && f.downSec <= 5, 'inside the grace');
            if (f.kind === 'media-worker' || f.kind === 'temporal-worker')
              assert.equal(f.downSec, 0);
            const prev = plan[i - 1];
            if (prev) {
              assert.ok(f.atSec > prev.atSec);
              assert.notEqual(f.kind, prev.kind);
            }
          }
        }
      }
    },
  );

  it(
    'a short run gets several different kinds; one with no room gets none',
    { timeout: 5_000 },
    () => {
      const plan = planFaults({ ...base, minutes: 2, everySec: 15 });
      assert.equal(plan.length, 5);
      assert.equal(new Set(plan.map((f) => f.kind)).size, 5);
      assert.equal(faultCount({ ...base, minutes: 0.5 }), 0);
      assert.deepEqual(planFaults({ ...base, minutes: 0.5 }), []);
      // Never denser than the minimum spacing, whatever is asked.
      const dense = faultCount({ ...base, minutes: 10, everySec: 1 });
      assert.ok(dense <= (600 - 45) / MIN_SPACING_SEC);
    },
  );

  it('can be limited to some kinds', { timeout: 5_000 }, () => {
    const plan = planFaults({ ...base, minutes: 5, kinds: ['store', 'broker'] });
    assert.ok(plan.every((f) => f.kind === 'store' || f.kind === 'broker'));
    assert.deepEqual(parseKindList('store, broker,store'), ['store', 'broker']);
    assert.throws(() => parseKindList('disk'), /not a fault kind/);
    assert.throws(() => parseKindList(''), /no fault kind/);
  });
});
