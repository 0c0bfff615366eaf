import { WorkflowIdConflictPolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { HostEvent } from '../domain/host-presence.ts';
import { LivestreamGoneError } from './host-event-relay.ts';
import { CONTROL_TASK_QUEUE, workflowIds } from '../domain/recording-plan.ts';
import type { LivestreamInput, LivestreamState, RecordingSegment } from './contracts.ts';
import { hostEventSignal, livestreamStateQuery, segmentsQuery, stopSignal } from './signals.ts';
import type { LivestreamSummary } from './workflows/livestream-workflow.ts';

export class NoAnswerError extends Error {
  override name = 'NoAnswerError';
}

/** What the API and the CLI do with livestream workflows. */
export class LivestreamClient {
  constructor(private readonly client: Client) {}

  /** Starts the livestream's workflow; a second call for the same id finds the running one. */
  async start(input: LivestreamInput): Promise<string> {
    const workflowId = workflowIds.livestream(input.livestreamId);
    await this.client.workflow.start('livestreamWorkflow', {
      workflowId,
      taskQueue: CONTROL_TASK_QUEUE,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    return workflowId;
  }

  /** Rejects with LivestreamGoneError when the livestream's workflow does not run. */
  async hostEvent(livestreamId: string, event: HostEvent): Promise<void> {
    try {
      await this.client.workflow
        .getHandle(workflowIds.livestream(livestreamId))
        .signal(hostEventSignal, event);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new LivestreamGoneError(`livestream ${livestreamId} has no workflow running`);
      throw err;
    }
  }

  async stop(livestreamId: string): Promise<void> {
    await this.client.workflow.getHandle(workflowIds.livestream(livestreamId)).signal(stopSignal);
  }

  /**
   * Waits for the livestream workflow to finish (after stop) and returns its summary, once its
   * recording workflows have closed too: each one reports its end to the livestream before it
   * completes, so under load the livestream could finish a moment before the last of them.
   */
  async result(livestreamId: string, closeWaitMs = 30_000): Promise<LivestreamSummary> {
    const summary = (await this.client.workflow
      .getHandle(workflowIds.livestream(livestreamId))
      .result()) as LivestreamSummary;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(
        summary.recordings.map((r) =>
          this.client.workflow
            .getHandle(r.workflowId)
            .result()
            .catch(() => undefined),
        ),
      ),
      new Promise((resolve) => (timer = setTimeout(resolve, closeWaitMs))),
    ]);
    clearTimeout(timer);
    return summary;
  }

  /** Whether the livestream's workflow exists (running or not); needs no worker. */
  async exists(livestreamId: string): Promise<boolean> {
    try {
      await this.client.workflow.getHandle(workflowIds.livestream(livestreamId)).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /**
   * The workflow's state, or null when there is no such livestream. Throws NoAnswerError when
   * no worker answered the query (none running, or all busy).
   */
  async state(livestreamId: string): Promise<LivestreamState | null> {
    try {
      return await this.client.workflow
        .getHandle(workflowIds.livestream(livestreamId))
        .query(livestreamStateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw new NoAnswerError(
        `livestream ${livestreamId}: no answer from its workflow (${(err as Error).message})`,
      );
    }
  }

  /** What a recording workflow has recorded so far (segments), or null before it exists. */
  async segments(workflowId: string): Promise<RecordingSegment[] | null> {
    try {
      return await this.client.workflow.getHandle(workflowId).query(segmentsQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  /** Resolves once the livestream's composite is recording, e.g. before hosts are told to publish. */
  async compositeRecording(livestreamId: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const segments = await this.segments(workflowIds.composite(livestreamId)).catch(() => null);
      if (segments?.some((s) => s.ended === 'running')) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the composite of ${livestreamId} was not recording within ${timeoutMs} ms`);
  }

  /**
   * Recording workflows of a livestream, as Temporal lists them. The list (visibility) may lag
   * behind a few seconds, so each one's status is read from the workflow itself.
   */
  async recordingWorkflows(
    livestreamId: string,
  ): Promise<{ workflowId: string; type: string; status: string }[]> {
    const ids = new Set<string>();
    const prefix = `${workflowIds.livestream(livestreamId)}-`;
    for await (const w of this.client.workflow.list({
      query: `WorkflowId STARTS_WITH "${prefix}"`,
    }))
      ids.add(w.workflowId);
    return Promise.all(
      [...ids].sort().map(async (workflowId) => {
        const d = await this.client.workflow.getHandle(workflowId).describe();
        return { workflowId, type: d.type, status: d.status.name };
      }),
    );
  }
}
