import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { workflowIds } from '../../src/domain/recording-plan.ts';
import type { NodeRig } from './node-rig.ts';

/**
 * Where recorded workflow histories are kept. Each is replayed against the current workflow code
 * (replay.test.ts): a change that would break a workflow running through an upgrade fails there.
 */
export const HISTORIES_DIR = new URL('./histories/', import.meta.url);

/**
 * With TAPEDECK_RECORD_HISTORIES=<name> set, writes the history of the livestream's workflow and
 * of each of its recordings' to histories/<name>/, one file each, as the server sends it (protobuf).
 */
export async function recordHistoriesIfAsked(rig: NodeRig, livestreamId: string): Promise<void> {
  const name = process.env.TAPEDECK_RECORD_HISTORIES;
  if (!name) return;
  const dir = join(HISTORIES_DIR.pathname, name);
  await mkdir(dir, { recursive: true });
  const ids = [
    workflowIds.livestream(livestreamId),
    ...(await rig.node.livestreams.recordingWorkflows(livestreamId)).map((w) => w.workflowId),
  ];
  for (const id of ids) {
    const history = await rig.node.client.workflow.getHandle(id).fetchHistory();
    await writeFile(
      join(dir, `${id}.pb`),
      proto.temporal.api.history.v1.History.encode(history).finish(),
    );
  }
  console.log(`recorded ${ids.length} histories in ${dir}`);
}
