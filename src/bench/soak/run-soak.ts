import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openBus } from '../../delivery/bus/open.ts';
import type { Subscription } from '../../delivery/bus/port.ts';
import { GAP_EVENT_TYPE, type GapEventData } from '../../domain/gap-event.ts';
import { SNIPPET_READY, type SnippetReady } from '../../domain/snippet-event.ts';
import { SyntheticHost } from '../../ingest/publisher/synthetic-host.ts';
import { startNode, type RunningNode } from '../../node/node.ts';
import {
  announcedGaps,
  hostAbsences,
  readStoredObjects,
  readStreamEvents,
  readyEvents,
} from './collect.ts';
import { addKinds, fdCount, growthFigures, noFds, type UsageSample } from './growth.ts';
import { injectFault, publishAgain, type DeliveredEnds, type SoakLivestream } from './inject.ts';
import { fdKinds, mediaWorkers, rssKiB } from './procs.ts';
import { soakOk, soakTargets, type FaultRecord, type SoakResult } from './report.ts';
import { countByKind, planFaults, type FaultKind, type PlannedFault } from './schedule.ts';
import {
  startNatsServer,
  startS3Server,
  startTemporalServer,
  type NatsServer,
  type S3Server,
  type SoakServer,
} from './servers.ts';
import { checkTracks, type RecordedSegment, type StoredObject } from './track-check.ts';

export const SOAK_HOSTS = 4;
/** No fault before the recordings have settled, and none so late that recovery runs past the end. */
export const LEAD_SEC = 20;
export const TAIL_SEC = 25;

export interface SoakOptions {
  minutes: number;
  livestreams: number;
  faults: boolean;
  seed: number;
  everySec: number;
  kinds?: FaultKind[];
  workDir?: string;
  keep?: boolean;
  signal?: AbortSignal;
  say: (line: string) => void;
  /** The node's own log lines (worker restarts, gaps announced). */
  nodeLog?: (line: string) => void;
}

export function soakPlan(
  o: Pick<SoakOptions, 'minutes' | 'livestreams' | 'seed' | 'everySec' | 'kinds'>,
): PlannedFault[] {
  return planFaults({
    seed: o.seed,
    minutes: o.minutes,
    livestreams: o.livestreams,
    hosts: SOAK_HOSTS,
    workerSlots: 2,
    everySec: o.everySec,
    leadSec: LEAD_SEC,
    tailSec: TAIL_SEC,
    ...(o.kinds ? { kinds: o.kinds } : {}),
  });
}

/** Warm-up before the memory baseline: start-up allocations are not growth. */
export function warmupSec(minutes: number): number {
  return Math.min(120, Math.max(20, minutes * 60 * 0.2));
}

const PATTERNS = ['smpte', 'ball', 'bar', 'pinwheel'];

/** Events an outbox log added and has not marked done: still to be published. */
export function outboxPending(log: string): number {
  const added = new Set<string>();
  const done = new Set<string>();
  for (const line of log.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { add?: { id?: string }; done?: string };
      if (entry.add?.id) added.add(entry.add.id);
      if (entry.done) done.add(entry.done);
    } catch {
      // A line cut by a crash: the outbox itself ignores it too.
    }
  }
  let pending = 0;
  for (const id of added) if (!done.has(id)) pending++;
  return pending;
}

function spoolAndOutboxEmpty(dataDir: string): boolean {
  const pending = (dir: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return false;
    }
    for (const n of names) {
      const p = join(dir, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (pending(p)) return true;
      } else if (/_\d{6}\.mp[34]$/.test(n)) return true;
    }
    return false;
  };
  const outboxBusy = (file: string) =>
    existsSync(file) && outboxPending(readFileSync(file, 'utf8')) > 0;
  const dirs = readdirSync(dataDir).filter((d) => /^worker-\d+$/.test(d));
  for (const d of dirs) {
    if (pending(join(dataDir, d, 'spool'))) return false;
    if (outboxBusy(join(dataDir, d, 'outbox', 'events.jsonl'))) return false;
  }
  return !outboxBusy(join(dataDir, 'control', 'outbox', 'events.jsonl'));
}

/** Runs the whole soak and returns its result; every server and process it started is stopped. */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const work = o.workDir
    ? await mkdtemp(join(o.workDir, 'tapedeck-soak-'))
    : await mkdtemp(join(tmpdir(), 'tapedeck-soak-'));
  const say = o.say;
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    say(`soak: servers on 127.0.0.1 in ${work}…`);
    const store: S3Server = await startS3Server(join(work, 's3'));
    cleanups.push(() => store.stop());
    const broker: NatsServer = await startNatsServer(join(work, 'nats'));
    cleanups.push(() => broker.stop());
    const temporal: SoakServer = await startTemporalServer(join(work, 'temporal'));
    cleanups.push(() => temporal.stop());
    say(
      `  S3 (versitygw) ${store.address}, NATS JetStream ${broker.address}, Temporal ${temporal.address}`,
    );
    // The node and its worker processes (which inherit the environment) reach S3 through these.
    Object.assign(process.env, store.env);

    const dataDir = join(work, 'node');
    await mkdir(dataDir, { recursive: true });
    const node: RunningNode = await startNode({
      dataDir,
      apiPort: 0,
      whipPort: 0,
      temporal: { address: temporal.address, namespace: 'default' },
      temporalUi: false,
      storeUrl: store.storeUrl,
      busUrl: broker.url,
      moderation: null,
      log: o.nodeLog ?? (() => undefined),
    });
    cleanups.push(() => node.stop());

    // The newest snippet end per track, from the bus as it happens: how recovery is seen.
    const delivered: DeliveredEnds = new Map();
    let readyCount = 0;
    let gapCount = 0;
    const watchBus = await openBus(broker.url, { dataDir: work });
    cleanups.push(() => watchBus.close());
    const watch: Subscription = await watchBus.subscribe(
      { name: 'tapedeck-soak-watch', startAt: 'new', transient: true },
      async (d) => {
        if (d.event.type === SNIPPET_READY) {
          const s = d.event.data as SnippetReady;
          const track = `${s.livestreamId}/${s.track}`;
          delivered.set(track, Math.max(delivered.get(track) ?? 0, Date.parse(s.end)));
          readyCount++;
        } else if (d.event.type === GAP_EVENT_TYPE) {
          const g = d.event.data as GapEventData;
          gapCount++;
          say(
            `  gap announced: ${g.livestreamId}/${g.track} ${(g.durationMs / 1000).toFixed(1)} s`,
          );
        }
        await d.ack();
      },
    );
    cleanups.push(() => watch.close());

    const livestreams: SoakLivestream[] = [];
    const stopHosts = async () => {
      await Promise.allSettled(
        livestreams.flatMap((l) => l.hosts.map((h) => h.publisher.stop('SIGKILL'))),
      );
    };
    cleanups.push(stopHosts);
    for (let i = 0; i < o.livestreams; i++) {
      const made = (await node.service.create({
        livestreamId: `soak-${Date.now().toString(36)}-${i + 1}`,
        hostIds: Array.from({ length: SOAK_HOSTS }, (_, h) => `h${h + 1}`),
      })) as { livestreamId: string; hosts: { hostId: string; whipUrl: string; token: string }[] };
      await node.livestreams.compositeRecording(made.livestreamId, 120_000);
      const ls: SoakLivestream = {
        livestreamId: made.livestreamId,
        tracks: ['composite', ...made.hosts.map((h) => `host-${h.hostId}`)],
        hosts: made.hosts.map((h, n) => {
          const options = {
            whipUrl: h.whipUrl,
            token: h.token,
            name: h.hostId,
            toneHz: 330 + 110 * n,
            pattern: PATTERNS[n % PATTERNS.length]!,
            // Small pictures: the publishers share the machine with what they feed.
            extraArgs: ['--width', '320', '--height', '180', '--kbps', '400'],
          };
          return { hostId: h.hostId, options, publisher: new SyntheticHost(options) };
        }),
      };
      livestreams.push(ls);
      await Promise.all(ls.hosts.map((h) => h.publisher.answered()));
      say(`livestream ${ls.livestreamId}: ${SOAK_HOSTS} hosts publishing`);
    }

    const t0 = Date.now();
    const totalSec = o.minutes * 60;
    const at = () => (Date.now() - t0) / 1000;
    const stamp = () => `[${at().toFixed(1).padStart(6)} s]`;
    const plan = o.faults ? soakPlan(o) : [];
    say(
      `${stamp()} publishing for ${o.minutes} min; ` +
        (o.faults
          ? `${plan.length} faults planned (seed ${o.seed}): ${plan.map((f) => `${f.atSec.toFixed(0)} s ${f.kind}`).join(', ')}`
          : 'no faults'),
    );

    // Usage samples: the node is this process; its workers and their media workers are children.
    let faulting = false;
    let quietFrom = 0;
    const samples: UsageSample[] = [];
    const sampleEveryMs = Math.min(10_000, Math.max(2_000, (totalSec * 1000) / 60));
    const takeSample = () => {
      const workers = node.workers.map((w) => w.pid).filter((p): p is number => p !== undefined);
      const media = mediaWorkers(workers);
      const sum = (pids: number[], f: (p: number) => number) => pids.reduce((s, p) => s + f(p), 0);
      // Each process's descriptors are read once: the counts per part are the kinds summed.
      const kinds = new Map([process.pid, ...workers, ...media].map((p) => [p, fdKinds(p)]));
      const open = (p: number) => fdCount(kinds.get(p) ?? noFds());
      samples.push({
        atSec: at(),
        rssKiB: {
          node: rssKiB(process.pid),
          workers: sum(workers, rssKiB),
          media: sum(media, rssKiB),
        },
        fds: {
          node: open(process.pid),
          workers: sum(workers, open),
          media: sum(media, open),
        },
        fdKinds: addKinds([...kinds.values()]),
        mediaProcesses: media.length,
        // A few seconds after a recovery the switch-overs and uploads it caused have settled.
        quiet: !faulting && Date.now() >= quietFrom && workers.length === node.workers.length,
      });
    };
    const sampler = setInterval(takeSample, sampleEveryMs);
    cleanups.push(async () => clearInterval(sampler));
    let lastStatus = 0;
    const status = setInterval(() => {
      if (Date.now() - lastStatus < 14_000) return;
      lastStatus = Date.now();
      const s = samples.at(-1);
      say(
        `${stamp()} ${readyCount} snippets announced, ${gapCount} gaps` +
          (s
            ? `, ${s.mediaProcesses} media workers, RSS ${((s.rssKiB.node + s.rssKiB.workers + s.rssKiB.media) / 1024).toFixed(0)} MiB, ${s.fds.node + s.fds.workers + s.fds.media} fds`
            : ''),
      );
    }, 1_000);
    cleanups.push(async () => clearInterval(status));

    // A real host app publishes again when its session is gone. On a loaded machine the ingest can
    // end a session the injector never touched; the host then comes back, and the report says so.
    const reconnects: { atSec: number; livestreamId: string; hostId: string }[] = [];
    const absentSince = new Map<string, number>();
    let reconnecting = false;
    const hostWatch = setInterval(() => {
      if (reconnecting || (faulting && currentKind === 'host-drop')) return;
      for (const ls of livestreams) {
        const snapshot = node.ingest.snapshot(ls.livestreamId);
        for (const h of ls.hosts) {
          const id = `${ls.livestreamId}/${h.hostId}`;
          const state = snapshot.find((x) => x.hostId === h.hostId)?.presence.connection;
          if (state !== 'absent') {
            absentSince.delete(id);
            continue;
          }
          const since = absentSince.get(id) ?? Date.now();
          absentSince.set(id, since);
          if (Date.now() - since < 4_000) continue;
          absentSince.delete(id);
          reconnecting = true;
          reconnects.push({ atSec: at(), livestreamId: ls.livestreamId, hostId: h.hostId });
          say(`${stamp()} ${id} lost its session (not injected); publishing again`);
          void h.publisher
            .stop('SIGKILL')
            .then(() => publishAgain(h, Date.now() + 30_000))
            .catch((err: Error) => say(`${stamp()} ${id}: ${err.message}`))
            .finally(() => (reconnecting = false));
          return;
        }
      }
    }, 1_000);
    cleanups.push(async () => clearInterval(hostWatch));
    let currentKind: FaultKind | null = null;

    const records: FaultRecord[] = [];
    const lastFaultSec = totalSec - TAIL_SEC;
    for (const f of plan) {
      if (o.signal?.aborted) break;
      const wait = t0 + f.atSec * 1000 - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal: o.signal }).catch(() => undefined);
      if (o.signal?.aborted) break;
      if (at() > lastFaultSec) {
        records.push({
          index: f.index,
          kind: f.kind,
          target: '-',
          plannedAtSec: f.atSec,
          atSec: null,
          downSec: f.downSec,
          backAfterSec: null,
          recoveredAfterSec: null,
          status: 'skipped',
          note: 'earlier recoveries ran past the last moment for a fault',
        });
        continue;
      }
      faulting = true;
      currentKind = f.kind;
      say(
        `${stamp()} fault ${f.index + 1}/${plan.length}: ${f.kind}${f.downSec ? ` (down ${f.downSec.toFixed(1)} s)` : ''}`,
      );
      const r = await injectFault(
        {
          node,
          servers: { store, broker, temporal },
          livestreams,
          delivered,
          t0,
          recoveryTimeoutMs: 90_000,
          say: (l) => say(`${stamp()} ${l.trim()}`),
        },
        f,
      );
      faulting = false;
      quietFrom = Date.now() + 3_000;
      records.push(r);
      say(
        `${stamp()} fault ${f.index + 1}: ${r.target}: ` +
          (r.status === 'recovered'
            ? `recovered${r.recoveredAfterSec !== null ? ` after ${r.recoveredAfterSec.toFixed(1)} s` : ''}`
            : `NOT RECOVERED${r.note ? ` (${r.note})` : ''}`),
      );
    }
    const left = t0 + totalSec * 1000 - Date.now();
    if (left > 0) await sleep(left, undefined, { signal: o.signal }).catch(() => undefined);
    takeSample();
    clearInterval(sampler);
    clearInterval(status);
    clearInterval(hostWatch);
    const publishedSec = at();

    say(`${stamp()} stopping the livestreams; recordings finish their last snippets…`);
    const segments: RecordedSegment[] = [];
    for (const ls of livestreams) {
      await node.service.stop(ls.livestreamId);
      const summary = await node.livestreams.result(ls.livestreamId);
      for (const r of summary.recordings)
        for (const s of r.segments)
          segments.push({
            livestreamId: ls.livestreamId,
            track: r.track,
            variant: s.variant,
            firstSeq: s.firstSeq,
            lastSeq: s.lastSeq,
            startedAtMs: s.startedAtMs,
            endedAtMs: s.endedAtMs,
          });
    }
    await stopHosts();
    say(`${stamp()} waiting for delivery to settle (spools and outboxes empty)…`);
    const settleDeadline = Date.now() + 180_000;
    let stableSince = Date.now();
    let lastCount = readyCount;
    while (Date.now() < settleDeadline) {
      if (readyCount !== lastCount) {
        lastCount = readyCount;
        stableSince = Date.now();
      }
      if (spoolAndOutboxEmpty(dataDir) && Date.now() - stableSince > 5_000) break;
      await sleep(500);
    }

    say(`${stamp()} reading back every object and every event…`);
    const scratch = join(work, 'scratch');
    await mkdir(scratch, { recursive: true });
    const objects: StoredObject[] = [];
    for (const ls of livestreams)
      objects.push(...(await readStoredObjects(node.store, ls.livestreamId, scratch)));
    const events = await readStreamEvents(broker.url);
    const check = checkTracks({
      objects,
      events: readyEvents(events),
      gaps: announcedGaps(events),
      away: hostAbsences(events),
      segments,
    });
    const growth = growthFigures(samples, warmupSec(o.minutes));
    const setup = {
      seed: o.seed,
      minutes: o.minutes,
      livestreams: o.livestreams,
      hosts: SOAK_HOSTS,
      faultsEnabled: o.faults,
      store: `S3 (versitygw ${store.address}, ${store.storeUrl})`,
      bus: `NATS JetStream ${broker.address}`,
      temporal: `dev server ${temporal.address}`,
    };
    const targets = soakTargets(setup, records, check, growth);
    return {
      ...setup,
      ok: soakOk(targets, check),
      scoring: false,
      node: 'in-process',
      startedAt: new Date(t0).toISOString(),
      publishedSec,
      faults: records,
      hostReconnects: reconnects,
      faultsByKind: countByKind(records.filter((r) => r.atSec !== null)),
      check,
      growth,
      targets,
    };
  } finally {
    say('soak: stopping the node and the servers…');
    await cleanup();
    if (!o.keep) await rm(work, { recursive: true, force: true });
    else say(`soak: kept ${work}`);
  }
}
