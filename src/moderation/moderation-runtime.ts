import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { EscalationWindow } from '../domain/escalation.ts';
import type { QualityThresholds } from '../domain/quality-rules.ts';
import { workflowIds } from '../domain/recording-plan.ts';
import type { MessageBus } from '../delivery/bus/port.ts';
import type { ObjectStore } from '../delivery/store/port.ts';
import { persistentSecret } from '../node/secrets.ts';
import { MODERATION_TASK_QUEUE } from '../orchestration/escalation/contracts.ts';
import { createEscalationActivities } from '../orchestration/escalation/escalation-activities.ts';
import { startEscalationTrigger, type EscalationTrigger } from './escalation-trigger.ts';
import type { ModerationPort } from './review-port.ts';
import { trackHoldUps } from './hold-up-tracker.ts';
import { trackPresence } from './presence-tracker.ts';
import { startScorer, type Scorer } from './scorer.ts';
import { ModerationClient } from './service/moderation-client.ts';
import { startModerationService } from './service/moderation-service.ts';

/** Where reviews go: the built-in service (started here) or a platform's own, by URL. */
export type ModerationServiceConfig =
  { builtIn: true; port?: number } | { url: string; token: string };

export interface ModerationRuntimeOptions {
  dataDir: string;
  client: Client;
  connection: NativeConnection;
  namespace: string;
  bus: MessageBus;
  store: ObjectStore;
  service: ModerationServiceConfig;
  thresholds?: QualityThresholds;
  window?: EscalationWindow;
  /** The escalation workflows' history limit (EscalationInput); default theirs. */
  historyLimit?: number;
  /** A track that stores nothing new for this long is clipped as it is. */
  settleMs?: number;
  /** Run a scorer here too (default). Off where scores come from elsewhere. */
  score?: boolean;
  log?: (line: string) => void;
}

export interface ModerationRuntime {
  /** The moderation service's base URL (the reviewer page is at its root). */
  readonly serviceUrl: string;
  /** A reviewer's login for the built-in service; null for a platform's own. */
  readonly reviewerLogin: { name: string; token: string } | null;
  readonly moderation: ModerationPort;
  readonly scorer: Scorer;
  readonly trigger: EscalationTrigger;
  close(): Promise<void>;
}

/**
 * The moderation loop of one node: the scorer, the trigger that hands low scores to escalation
 * workflows, the worker that runs their activities, and (by default) the moderation service.
 * Every part can run on many nodes: scorers and triggers share durable subscriptions, and the
 * activities one task queue.
 */
export async function startModeration(o: ModerationRuntimeOptions): Promise<ModerationRuntime> {
  const dir = join(o.dataDir, 'moderation');
  await mkdir(join(dir, 'work'), { recursive: true });
  const cleanups: (() => Promise<unknown>)[] = [];
  const log = (line: string) => o.log?.(line);
  try {
    let url: string;
    let token: string;
    let reviewerLogin: ModerationRuntime['reviewerLogin'] = null;
    if ('url' in o.service) {
      ({ url, token } = o.service);
    } else {
      token = await persistentSecret(join(o.dataDir, 'secrets', 'moderation-escalation-token'));
      const reviewer = await persistentSecret(
        join(o.dataDir, 'secrets', 'moderation-reviewer-token'),
      );
      const service = await startModerationService({
        dataDir: join(dir, 'service'),
        store: o.store,
        tokens: { reviewers: { reviewer }, services: { escalation: token } },
        port: o.service.port ?? 0,
      });
      cleanups.push(() => service.close());
      url = service.url;
      reviewerLogin = { name: 'reviewer', token: reviewer };
    }
    const moderation = new ModerationClient({ url, token });

    const worker = await Worker.create({
      connection: o.connection,
      namespace: o.namespace,
      taskQueue: MODERATION_TASK_QUEUE,
      activities: createEscalationActivities({
        store: o.store,
        moderation,
        workDir: join(dir, 'work'),
        ...(o.settleMs !== undefined ? { settleMs: o.settleMs } : {}),
        livestreamOver: async (livestreamId) => {
          try {
            const d = await o.client.workflow
              .getHandle(workflowIds.livestream(livestreamId))
              .describe();
            return d.status.name !== 'RUNNING';
          } catch {
            // No such workflow (snippets from elsewhere) or Temporal away: wait as usual.
            return false;
          }
        },
        log,
      }),
      maxConcurrentActivityTaskExecutions: 8,
    });
    const running = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    });

    const presence = o.score === false ? null : await trackPresence(o.bus);
    if (presence) cleanups.push(() => presence.close());
    const heldUp = o.score === false ? null : await trackHoldUps(o.bus);
    if (heldUp) cleanups.push(() => heldUp.close());
    const scorer: Scorer =
      o.score === false || !presence
        ? {
            stats: () => ({ scored: 0, flagged: 0, refused: 0, retried: 0 }),
            close: async () => undefined,
          }
        : await startScorer({
            bus: o.bus,
            store: o.store,
            workDir: join(dir, 'work'),
            presence,
            ...(heldUp ? { heldUp } : {}),
            ...(o.thresholds ? { thresholds: o.thresholds } : {}),
            onLog: log,
          });
    cleanups.push(() => scorer.close());
    const trigger = await startEscalationTrigger({
      bus: o.bus,
      client: o.client,
      ...(o.window ? { window: o.window } : {}),
      ...(o.historyLimit ? { historyLimit: o.historyLimit } : {}),
      onLog: log,
    });
    cleanups.push(() => trigger.close());

    return {
      serviceUrl: url,
      reviewerLogin,
      moderation,
      scorer,
      trigger,
      async close() {
        for (const f of cleanups.reverse())
          await f().catch((err: Error) => log(`moderation: ${err.message}`));
      },
    };
  } catch (err) {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
    throw err;
  }
}
