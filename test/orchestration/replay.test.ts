import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import proto from '@temporalio/proto';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from './histories.ts';

/**
 * Workflows outlive the code that started them: an upgraded node replays the history of every
 * livestream still recording. Each history kept in histories/ (recorded by an earlier version from
 * the fault tests, TAPEDECK_RECORD_HISTORIES=<folder>) must replay on the current workflow code
 * without a nondeterminism error; a change that alters the commands a workflow issued is guarded
 * with patched() instead.
 */

const WORKFLOWS = fileURLToPath(
  new URL('../../src/orchestration/workflows/index.ts', import.meta.url),
);

async function recorded(): Promise<{ workflowId: string; file: string }[]> {
  const root = HISTORIES_DIR.pathname;
  const out: { workflowId: string; file: string }[] = [];
  for (const folder of (await readdir(root, { withFileTypes: true })).filter((d) =>
    d.isDirectory(),
  ))
    for (const name of (await readdir(join(root, folder.name))).filter((n) => n.endsWith('.pb')))
      out.push({ workflowId: basename(name, '.pb'), file: join(root, folder.name, name) });
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

test(
  'recorded workflow histories replay on the current workflow code',
  { timeout: 180_000 },
  async () => {
    const histories = await recorded();
    // Recordings of every kind, and the livestream that runs them: none may go missing unnoticed.
    const types = new Set<string>();
    const loaded = await Promise.all(
      histories.map(async (h) => {
        const history = proto.temporal.api.history.v1.History.decode(await readFile(h.file));
        const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
        types.add(started?.workflowType?.name ?? '?');
        return { workflowId: h.workflowId, history };
      }),
    );
    assert.deepEqual([...types].sort(), [
      'compositeRecordingWorkflow',
      'hostRecordingWorkflow',
      'livestreamWorkflow',
    ]);
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: silent });
    const failures: string[] = [];
    let replayed = 0;
    for await (const r of Worker.runReplayHistories({ workflowBundle: { code } }, loaded)) {
      replayed++;
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    assert.equal(replayed, histories.length);
    assert.deepEqual(failures, []);
    console.log(`replayed ${replayed} histories`);
  },
);

const silent = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
