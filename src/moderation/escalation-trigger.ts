import type { Client } from '@temporalio/client';
import type { CloudEvent } from '../domain/cloudevent.ts';
import { DEFAULT_ESCALATION_WINDOW, type EscalationWindow } from '../domain/escalation.ts';
import { escalationWorkflowId, flagOf } from '../domain/escalation-flags.ts';
import { CONTROL_TASK_QUEUE } from '../domain/recording-plan.ts';
import {
  SNIPPET_SCORED,
  snippetScoredProblems,
  type SnippetScored,
} from '../domain/snippet-scored.ts';
import type { Delivery, MessageBus, Subscription } from '../delivery/bus/port.ts';
import { flagSignal, type EscalationInput } from '../orchestration/escalation/contracts.ts';

export const DEFAULT_ESCALATION_SUBSCRIPTION = 'tapedeck-escalation';

export interface EscalationTriggerOptions {
  bus: MessageBus;
  client: Client;
  window?: EscalationWindow;
  /** The escalation workflows' history limit (EscalationInput); default theirs. */
  historyLimit?: number;
  subscription?: string;
  onLog?: (line: string) => void;
  /** Called once a flag reached its track's escalation workflow. */
  onFlagged?: (scored: SnippetScored) => void;
}

export interface EscalationTrigger {
  stats(): { flagged: number; passed: number; refused: number; retried: number };
  close(): Promise<void>;
}

/**
 * Hands every low score to its track's escalation workflow (started if need be). The event is
 * acknowledged only once Temporal has the signal, so a flag survives Temporal being down.
 */
export async function startEscalationTrigger(
  o: EscalationTriggerOptions,
): Promise<EscalationTrigger> {
  const stats = { flagged: 0, passed: 0, refused: 0, retried: 0 };
  const window = o.window ?? DEFAULT_ESCALATION_WINDOW;
  const log = (line: string) => o.onLog?.(line);

  async function handle(d: Delivery): Promise<void> {
    const problems = snippetScoredProblems(d.event);
    if (problems.length) {
      stats.refused += 1;
      log(`escalation: ignoring ${d.event.id}: ${problems.join('; ')}`);
      return d.ack();
    }
    const scored = (d.event as CloudEvent<SnippetScored>).data;
    if (!scored.review) {
      stats.passed += 1;
      return d.ack();
    }
    const input: EscalationInput = {
      livestreamId: scored.livestreamId,
      track: scored.track,
      window,
      ...(o.historyLimit ? { historyLimit: o.historyLimit } : {}),
    };
    try {
      await o.client.workflow.signalWithStart('trackEscalationWorkflow', {
        workflowId: escalationWorkflowId(scored.livestreamId, scored.track),
        taskQueue: CONTROL_TASK_QUEUE,
        args: [input],
        signal: flagSignal,
        signalArgs: [flagOf(scored)],
      });
    } catch (err) {
      stats.retried += 1;
      log(`escalation: ${scored.key} will be tried again: ${(err as Error).message}`);
      return d.nack();
    }
    stats.flagged += 1;
    await d.ack();
    o.onFlagged?.(scored);
  }

  const sub: Subscription = await o.bus.subscribe(
    { name: o.subscription ?? DEFAULT_ESCALATION_SUBSCRIPTION, typePrefix: SNIPPET_SCORED },
    handle,
  );
  return { stats: () => ({ ...stats }), close: () => sub.close() };
}
