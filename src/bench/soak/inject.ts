import { setTimeout as sleep } from 'node:timers/promises';
import { SyntheticHost, type SyntheticHostOptions } from '../../ingest/publisher/synthetic-host.ts';
import type { RunningNode } from '../../node/node.ts';
import { recordingMediaWorkers } from './procs.ts';
import type { FaultRecord } from './report.ts';
import type { PlannedFault } from './schedule.ts';
import type { SoakServer } from './servers.ts';

/** One host of a soak livestream: its publisher is replaced when a fault drops it. */
export interface SoakHost {
  hostId: string;
  options: SyntheticHostOptions;
  publisher: SyntheticHost;
}

export interface SoakLivestream {
  livestreamId: string;
  tracks: string[];
  hosts: SoakHost[];
}

/** The newest snippet end (ms) seen on the bus per `livestream/track`. */
export type DeliveredEnds = Map<string, number>;

export interface InjectContext {
  node: RunningNode;
  servers: { store: SoakServer; broker: SoakServer; temporal: SoakServer };
  livestreams: SoakLivestream[];
  delivered: DeliveredEnds;
  /** ms since the epoch when the hosts started publishing. */
  t0: number;
  recoveryTimeoutMs: number;
  say: (line: string) => void;
}

const sec = (ms: number) => ms / 1000;

async function until(check: () => boolean, timeoutMs: number, stepMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(stepMs);
  }
  return check();
}

function workerPids(node: RunningNode): number[] {
  return node.workers.map((w) => w.pid).filter((p): p is number => p !== undefined);
}

/**
 * Publishes the host again the way a host app does after a crash: until the ingest takes it. The
 * ingest refuses (409) while it still holds the killed publisher's session, which it lets go only
 * once that session has sent nothing for its media timeout (5 s). Returns what it took, for the
 * record.
 */
export async function publishAgain(host: SoakHost, deadline: number): Promise<string> {
  let refused = 0;
  for (;;) {
    host.publisher = new SyntheticHost(host.options);
    try {
      await host.publisher.answered();
      return refused ? `; refused ${refused}× (still publishing) before it was taken` : '';
    } catch (err) {
      await host.publisher.stop('SIGKILL');
      if (!/\b409\b/.test((err as Error).message) || Date.now() > deadline) throw err;
      refused++;
      await sleep(500);
    }
  }
}

/**
 * Breaks what the plan says, waits until the component is back, then until every track it could
 * have hurt delivered a snippet that ended after that: only then is the fault over, so the next
 * one never hits a component that is still recovering.
 */
export async function injectFault(ctx: InjectContext, f: PlannedFault): Promise<FaultRecord> {
  const startedAt = Date.now();
  const ls = ctx.livestreams[f.livestream % ctx.livestreams.length]!;
  const record: FaultRecord = {
    index: f.index,
    kind: f.kind,
    target: '',
    plannedAtSec: f.atSec,
    atSec: sec(startedAt - ctx.t0),
    downSec: f.downSec,
    backAfterSec: null,
    recoveredAfterSec: null,
    status: 'not-recovered',
  };
  let affected: SoakLivestream[] = ctx.livestreams;
  let back = false;
  const restartServer = async (s: SoakServer) => {
    record.target = `${s.name} ${s.address} (pid ${s.pid ?? '?'})`;
    await s.kill();
    await sleep(f.downSec * 1000);
    await s.start();
    return true;
  };

  try {
    switch (f.kind) {
      case 'media-worker': {
        const before = recordingMediaWorkers(workerPids(ctx.node));
        if (!before.length) {
          record.target = 'no media worker recording';
          record.note = 'nothing to kill';
          break;
        }
        const victim = before[Math.floor(f.pick * before.length)]!;
        record.target = `media worker pid ${victim} (of ${before.length} recording)`;
        process.kill(victim, 'SIGKILL');
        // The workflows start the lost recording again in a worker: as many media processes as before.
        back = await until(
          () => recordingMediaWorkers(workerPids(ctx.node)).length >= before.length,
          ctx.recoveryTimeoutMs,
        );
        break;
      }
      case 'temporal-worker': {
        const slot = f.slot % ctx.node.workers.length;
        const supervisor = ctx.node.workers[slot]!;
        const pid = supervisor.pid;
        if (pid === undefined) {
          record.target = `worker slot ${slot} (not running)`;
          record.note = 'nothing to kill';
          break;
        }
        record.target = `worker slot ${slot} (pid ${pid})`;
        process.kill(pid, 'SIGKILL');
        back = await until(
          () => supervisor.pid !== undefined && supervisor.pid !== pid,
          ctx.recoveryTimeoutMs,
        );
        break;
      }
      case 'temporal-server':
        back = await restartServer(ctx.servers.temporal);
        break;
      case 'store':
        back = await restartServer(ctx.servers.store);
        break;
      case 'broker':
        back = await restartServer(ctx.servers.broker);
        break;
      case 'host-drop': {
        affected = [ls];
        const host = ls.hosts[(f.host - 1) % ls.hosts.length]!;
        record.target = `${ls.livestreamId} ${host.hostId} (publisher pid ${host.publisher.child.pid ?? '?'})`;
        await host.publisher.stop('SIGKILL');
        await sleep(f.downSec * 1000);
        record.target += await publishAgain(host, Date.now() + ctx.recoveryTimeoutMs);
        back = await until(
          () =>
            ctx.node.ingest
              .snapshot(ls.livestreamId)
              .some((h) => h.hostId === host.hostId && h.presence.connection === 'publishing'),
          ctx.recoveryTimeoutMs,
        );
        break;
      }
      case 'camera': {
        affected = [ls];
        const host = ls.hosts[(f.host - 1) % ls.hosts.length]!;
        record.target = `${ls.livestreamId} ${host.hostId} via ${f.via === 'api' ? 'control API' : 'publisher'}`;
        const set = async (on: boolean) => {
          if (f.via === 'publisher') host.publisher.send(`camera ${on ? 'on' : 'off'}`);
          else
            await ctx.node.service.control(
              ls.livestreamId,
              host.hostId,
              on ? 'camera-on' : 'camera-off',
            );
        };
        await set(false);
        await sleep(f.downSec * 1000);
        await set(true);
        back = true;
        break;
      }
    }
  } catch (err) {
    record.note = `injecting failed: ${(err as Error).message.split('\n')[0]}`;
  }
  if (!back) {
    record.status = record.note?.startsWith('nothing') ? 'recovered' : 'not-recovered';
    if (!record.note) record.note = 'did not come back in time';
    return record;
  }
  const backAt = Date.now();
  record.backAfterSec = sec(backAt - startedAt);
  ctx.say(
    `  ${f.kind} back after ${record.backAfterSec.toFixed(1)} s; waiting for every track to deliver again…`,
  );
  // A snippet that ended a second after the component was back went all the way through it.
  const tracks = affected.flatMap((l) => l.tracks.map((t) => `${l.livestreamId}/${t}`));
  const delivered = await until(
    () => tracks.every((t) => (ctx.delivered.get(t) ?? 0) > backAt + 1_000),
    ctx.recoveryTimeoutMs,
    250,
  );
  if (delivered) {
    record.recoveredAfterSec = sec(Date.now() - startedAt);
    record.status = 'recovered';
  } else {
    const late = tracks.filter((t) => (ctx.delivered.get(t) ?? 0) <= backAt + 1_000);
    record.note = `no new snippet from ${late.join(', ')} within ${sec(ctx.recoveryTimeoutMs)} s`;
  }
  return record;
}
