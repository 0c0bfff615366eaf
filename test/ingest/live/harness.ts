import type { ChildProcess } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, afterEach } from 'node:test';
import {
  defaultProfile,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
} from '../../../src/domain/profile.ts';
import { issueToken } from '../../../src/domain/whip-token.ts';
import { LiveIngest, type IngestHostEvent } from '../../../src/ingest/live-ingest.ts';
import { startWhipServer, type WhipServer } from '../../../src/ingest/whip/server.ts';
import type { MediaWorkerPool } from '../../../src/media/media-worker-pool.ts';
import { LivestreamRecorder } from '../../../src/recorder/livestream-recorder.ts';
import { spawnTracked, stopTracked } from '../../support/children.ts';
import { ROOT, tempDir } from '../../support/tapedeck.ts';

export const PUBLISHER = join(ROOT, 'src/ingest/publisher/whip-publisher.py');
export const SECRET = 'live-ingest-test-secret';

/** A WHIP server, the ingest behind it and one livestream's recordings, all in this process. */
export interface LiveRig {
  ingest: LiveIngest;
  recorder: LivestreamRecorder;
  server: WhipServer;
  events: IngestHostEvent[];
  /** What the recorder logged. */
  logs: string[];
  outDir: string;
  livestreamId: string;
  whipUrl(hostId: string): string;
  token(hostId: string, livestreamId?: string): string;
  /** Resolves with the first host event matching, waiting up to timeoutMs. */
  waitFor(match: (e: IngestHostEvent) => boolean, timeoutMs: number): Promise<IngestHostEvent>;
  /** Ends publishes and recordings; a second call waits for the first. */
  close(): Promise<void>;
}

export interface LiveRigOptions {
  /** Where host recordings take their media workers; by default each starts its own. */
  pool?: Pick<MediaWorkerPool, 'take'>;
}

export async function startLiveRig(
  outDir: string,
  livestreamId = 'show',
  options: LiveRigOptions = {},
): Promise<LiveRig> {
  const ingest = new LiveIngest();
  const events: IngestHostEvent[] = [];
  const logs: string[] = [];
  const waiters = new Set<() => void>();
  ingest.on('host', (e) => {
    events.push(e);
    for (const w of waiters) w();
  });
  const recorder = new LivestreamRecorder({
    ingest,
    livestreamId,
    composite: defaultProfile(DEFAULT_COMPOSITE_CANVAS),
    host: defaultProfile(DEFAULT_HOST_CANVAS),
    outDir,
    displayName: (id) => `Host ${id}`,
    onLog: (line) => {
      logs.push(line);
      process.stderr.write(`[rig] ${line}\n`);
    },
    ...(options.pool ? { pool: options.pool } : {}),
  });
  await recorder.start();
  const server = await startWhipServer({ backend: ingest, tokenSecret: SECRET });
  let closing: Promise<void> | undefined;
  return {
    ingest,
    recorder,
    server,
    events,
    logs,
    outDir,
    livestreamId,
    whipUrl: (hostId) => `${server.url}/whip/${livestreamId}/${hostId}`,
    token: (hostId, ls = livestreamId) =>
      issueToken(SECRET, { livestreamId: ls, hostId, expiresAt: Date.now() + 3_600_000 }),
    waitFor(match, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`no matching host event within ${timeoutMs} ms; saw ${describe(events)}`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      closing ??= (async () => {
        await server.close();
        await ingest.close();
        await recorder.stop();
      })();
      return closing;
    },
  };
}

export function describe(events: IngestHostEvent[]): string {
  return events.map((e) => `${e.event.hostId}:${e.event.type}`).join(', ');
}

export interface Publisher {
  child: ChildProcess;
  /** JSON lines the publisher printed. */
  lines: { event: string; [k: string]: unknown }[];
  send(command: string): void;
}

export function startPublisher(rig: LiveRig, hostId: string, extra: string[] = []): Publisher {
  const child = spawnTracked(
    '/usr/bin/python3',
    [
      PUBLISHER,
      '--url',
      rig.whipUrl(hostId),
      '--token',
      rig.token(hostId),
      '--name',
      hostId,
      ...extra,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines: Publisher['lines'] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Publisher['lines'][number]);
    } catch {
      // not one of its JSON lines
    }
  });
  return { child, lines, send: (c) => child.stdin!.write(`${c}\n`) };
}

export async function stopPublishers(publishers: Publisher[], signal: NodeJS.Signals = 'SIGTERM') {
  await Promise.all(publishers.map((p) => stopTracked(p.child, signal)));
}

/** Snippet files of one recording, in order. */
export async function snippetFiles(rig: LiveRig, recordingId: string): Promise<string[]> {
  const dir = join(rig.outDir, rig.livestreamId, recordingId);
  const names = (await readdir(dir)).filter((n) => /\.(mp4|mp3)$/.test(n)).sort();
  return names.map((n) => join(dir, n));
}

/**
 * What a test file of live rigs shares: rigs and publishers stopped after each test, even one
 * that failed or timed out, and the folders removed at the end.
 */
export function liveRigs(prefix: string) {
  const rigs: LiveRig[] = [];
  const publishers: Publisher[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await stopPublishers(publishers.splice(0), 'SIGKILL');
    await Promise.all(rigs.splice(0).map((r) => r.close()));
  });
  after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  return {
    publishers,
    async rig(options: LiveRigOptions = {}): Promise<LiveRig> {
      const dir = await tempDir(prefix);
      dirs.push(dir);
      const r = await startLiveRig(dir, 'show', options);
      rigs.push(r);
      return r;
    },
  };
}
