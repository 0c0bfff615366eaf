import {
  ParentClosePolicy,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  setHandler,
  startChild,
  workflowInfo,
  CancellationScope,
} from '@temporalio/workflow';
import type { HostEvent } from '../../domain/host-presence.ts';
import { applyHostEvent, initialHostView, workflowIds } from '../../domain/recording-plan.ts';
import type { LivestreamCarried, LivestreamInput, TrackSummary } from '../contracts.ts';
import {
  hostEventSignal,
  livestreamStateQuery,
  recordingEndedSignal,
  stopSignal,
} from '../signals.ts';
import { historyFull } from './history.ts';
import { compositeRecordingWorkflow, hostRecordingWorkflow } from './recording-workflows.ts';

const MAX_HISTORY_EVENTS = 5_000;

export interface LivestreamSummary {
  livestreamId: string;
  recordings: TrackSummary[];
}

/**
 * One livestream: starts the composite recording at once and a host recording the first time
 * each host joins (ids from the livestream and host ids, so never twice), passes host events on,
 * and on stop waits until every recording reports its last snippet finished.
 */
export async function livestreamWorkflow(input: LivestreamInput): Promise<LivestreamSummary> {
  const { livestreamId, nodeId, profiles } = input;
  const me = workflowInfo().workflowId;
  const s: LivestreamCarried = input.carried ?? {
    hosts: {},
    started: [],
    ended: {},
    stopping: false,
    eventsSeen: 0,
  };
  const inbox: HostEvent[] = [];
  setHandler(hostEventSignal, (e) => {
    inbox.push(e);
  });
  setHandler(stopSignal, () => {
    s.stopping = true;
  });
  setHandler(recordingEndedSignal, (summary) => {
    s.ended[summary.workflowId] = summary;
  });
  setHandler(livestreamStateQuery, () => ({
    livestreamId,
    stopping: s.stopping,
    hosts: Object.values(s.hosts),
    recordingWorkflows: [...s.started],
    ended: Object.keys(s.ended),
  }));

  // Children outlive a Continue-As-New of this workflow (ABANDON) and report back by signal.
  const child = {
    parentClosePolicy: ParentClosePolicy.ABANDON,
  } as const;
  // What every recording workflow of this livestream is started with.
  const trackBase = {
    livestreamId,
    nodeId,
    workerSlots: input.workerSlots ?? 1,
    parentWorkflowId: me,
    ...(input.historyLimit ? { historyLimit: input.historyLimit } : {}),
  };
  const startComposite = async () => {
    const workflowId = workflowIds.composite(livestreamId);
    if (s.started.includes(workflowId)) return;
    await startChild(compositeRecordingWorkflow, {
      ...child,
      workflowId,
      args: [
        {
          ...trackBase,
          profile: profiles.composite,
          ...(input.rtmpUrl ? { rtmpUrl: input.rtmpUrl } : {}),
          ...(input.hlsDir ? { hlsDir: input.hlsDir } : {}),
        },
      ],
    });
    s.started.push(workflowId);
  };
  const onHostEvent = async (e: HostEvent) => {
    s.eventsSeen += 1;
    const view = applyHostEvent(s.hosts[e.hostId] ?? initialHostView(e.hostId), e);
    s.hosts[e.hostId] = view;
    const workflowId = workflowIds.host(livestreamId, e.hostId);
    if (s.started.includes(workflowId)) {
      await getExternalWorkflowHandle(workflowId).signal(hostEventSignal, e);
    } else if (e.type === 'joined' && !s.stopping) {
      await startChild(hostRecordingWorkflow, {
        ...child,
        workflowId,
        args: [
          {
            ...trackBase,
            profile: profiles.host,
            hostId: e.hostId,
            view,
          },
        ],
      });
      s.started.push(workflowId);
    }
  };

  try {
    await startComposite();
    for (;;) {
      await condition(() => inbox.length > 0 || s.stopping);
      while (inbox.length) await onHostEvent(inbox.shift()!);
      if (s.stopping) break;
      if (historyFull(input.historyLimit ?? MAX_HISTORY_EVENTS))
        await continueAsNew<typeof livestreamWorkflow>({ ...input, carried: s });
    }
    for (const id of s.started)
      if (!s.ended[id]) await getExternalWorkflowHandle(id).signal(stopSignal);
    await condition(() => s.started.every((id) => s.ended[id]));
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled: the recordings still finish their last snippets.
    await CancellationScope.nonCancellable(async () => {
      for (const id of s.started)
        if (!s.ended[id])
          await getExternalWorkflowHandle(id)
            .signal(stopSignal)
            .catch(() => undefined);
      await condition(() => s.started.every((id) => s.ended[id]), '2 minutes');
    });
    throw err;
  }
  log.info('livestream ended', { livestreamId, recordings: s.started.length });
  return { livestreamId, recordings: s.started.map((id) => s.ended[id]!) };
}
