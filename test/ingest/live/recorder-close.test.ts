import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { liveRigs, startPublisher } from './harness.ts';

const { rig: liveRig, publishers } = liveRigs('recorder-close-');

/** Media worker processes whose parent is this process. */
async function ownMediaWorkers(): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8');
      if (ppid === process.pid && cmdline.includes('media/worker/main')) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

test(
  'closing while a host recording still starts leaves no media worker behind',
  { timeout: 90_000 },
  async () => {
    const rig = await liveRig();
    publishers.push(startPublisher(rig, 'h1'));
    await rig.waitFor((e) => e.event.hostId === 'h1' && e.event.type === 'joined', 20_000);
    // The host's own recording takes a second or more to start its worker; the ingest closes
    // in the meantime, so attaching the host's media to it fails.
    await rig.close();
    let left = await ownMediaWorkers();
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await sleep(100);
      left = await ownMediaWorkers();
    }
    assert.deepEqual(left, [], 'media workers still running after close');
    assert.ok(rig.recorder.recordings().length >= 1);
  },
);
