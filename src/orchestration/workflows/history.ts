import { workflowInfo } from '@temporalio/workflow';

/**
 * True once a workflow's history is long enough to go on as a new run: past `limit` events, or
 * sooner when Temporal suggests it (its own limits near).
 */
export function historyFull(limit: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > limit;
}
