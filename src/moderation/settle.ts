import type { Client } from '@temporalio/client';
import { escalationStateQuery } from '../orchestration/escalation/contracts.ts';
import type { ModerationRuntime } from './moderation-runtime.ts';

/**
 * Waits until this node's moderation loop has caught up with a livestream that ended: every
 * snippet scored, every low score handed to escalation, and every escalation of the livestream
 * done with its clips and reviews. For the demo and tests; a running system never waits.
 */
export async function waitForModeration(o: {
  runtime: ModerationRuntime;
  client: Client;
  livestreamId: string;
  /** Snippets the livestream stored. */
  snippets: number;
  timeoutMs: number;
  onProgress?: (line: string) => void;
}): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  // Twice in a row: a workflow just started by a signal can take a moment to be listed.
  let quiet = 0;
  for (;;) {
    const s = o.runtime.scorer.stats();
    const t = o.runtime.trigger.stats();
    let busy = 0;
    const query = `WorkflowType = 'trackEscalationWorkflow' AND ExecutionStatus = 'Running' AND WorkflowId STARTS_WITH 'tapedeck-escalation-${o.livestreamId}-'`;
    for await (const w of o.client.workflow.list({ query })) {
      const state = await o.client.workflow
        .getHandle(w.workflowId)
        .query(escalationStateQuery)
        .catch(() => null);
      if (!state || state.pending > 0 || state.busy) busy += 1;
    }
    const scored = s.scored + s.refused;
    o.onProgress?.(
      `moderation: ${scored}/${o.snippets} snippets scored, ${s.flagged} flagged, ${busy} escalations at work`,
    );
    quiet = scored >= o.snippets && t.flagged >= s.flagged && busy === 0 ? quiet + 1 : 0;
    if (quiet >= 2) return;
    if (Date.now() > deadline)
      throw new Error(
        `moderation did not catch up within ${Math.round(o.timeoutMs / 1000)} s: ${scored}/${o.snippets} snippets scored, ${busy} escalations at work`,
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
}
