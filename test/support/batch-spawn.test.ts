import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BATCH_NICENESS, batchSpawn } from '../../src/support/batch-spawn.ts';
import { nameAndNice } from './proc-stat.ts';

test(
  'batch work runs at its niceness above the node, the command itself and not a wrapper',
  { timeout: 10_000 },
  async () => {
    const own = nameAndNice(readFileSync('/proc/self/stat', 'utf8')).nice;
    const child = batchSpawn('cat', ['/proc/self/stat'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, 'close')) as [number];
    assert.equal(code, 0);
    assert.deepEqual(nameAndNice(out), { name: 'cat', nice: Math.min(19, own + BATCH_NICENESS) });
  },
);
