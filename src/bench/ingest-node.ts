/**
 * The ingest side of `tapedeck bench ingest`, run as a child process so that its CPU can be
 * measured alone: a LiveIngest behind a WHIP server on 127.0.0.1 and, with --record, a
 * LivestreamRecorder writing to --out. Without --record, every host that joins gets a UDP sink of
 * this process attached (video and audio), so RTP really leaves the ingest, and the datagrams are
 * counted.
 *
 * Talks JSON lines. Out (stdout): {"event":"ready","url"}, {"event":"joined","hostId","joinMs",
 * "basis"}, {"event":"left","hostId"}, {"event":"stats","packets","workerPids"},
 * {"event":"warning","message"}. In (stdin): "stats" and "quit"; end of stdin also quits.
 *
 * Usage: node --import tsx src/bench/ingest-node.ts --secret S --livestream ID [--record --out DIR]
 */
import { createSocket, type Socket } from 'node:dgram';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  defaultProfile,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
} from '../domain/profile.ts';
import { LiveIngest } from '../ingest/live-ingest.ts';
import type { SessionBackend } from '../ingest/whip/backend.ts';
import { startWhipServer } from '../ingest/whip/server.ts';
import { MediaWorkerPool, spareMediaWorkers } from '../media/media-worker-pool.ts';
import { LivestreamRecorder } from '../recorder/livestream-recorder.ts';

type JoinBasis = 'forwarded-rtp' | 'snippet-file';

const { values } = parseArgs({
  options: {
    secret: { type: 'string' },
    livestream: { type: 'string' },
    record: { type: 'boolean' },
    out: { type: 'string' },
  },
});
const livestreamId = values.livestream ?? 'bench';
const record = Boolean(values.record);

function say(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

const ingest = new LiveIngest();
ingest.on('warning', (message) => say({ event: 'warning', message }));
/** performance.now() when createSession was called, per host: the POST, once read and checked. */
const postAt = new Map<string, number>();
const backend: SessionBackend = {
  hasLivestream: (l) => ingest.hasLivestream(l),
  isPublishing: (l, h) => ingest.isPublishing(l, h),
  createSession: (request) => {
    postAt.set(request.hostId, performance.now());
    return ingest.createSession(request);
  },
  deleteSession: (id) => ingest.deleteSession(id),
  sessionOwner: (id) => ingest.sessionOwner(id),
};

let packets = 0;
const sinks: Socket[] = [];
const detaches: (() => void)[] = [];
const joinedAt = new Set<string>();

function joined(hostId: string, basis: JoinBasis): void {
  if (joinedAt.has(hostId)) return;
  joinedAt.add(hostId);
  const start = postAt.get(hostId);
  say({
    event: 'joined',
    hostId,
    joinMs: start === undefined ? null : performance.now() - start,
    basis,
  });
}

async function sink(hostId: string, kind: 'video' | 'audio'): Promise<void> {
  const socket = createSocket('udp4');
  sinks.push(socket);
  socket.on('message', () => {
    packets++;
    if (kind === 'video') joined(hostId, 'forwarded-rtp');
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  detaches.push(
    ingest.attach(livestreamId, hostId, kind, { host: '127.0.0.1', port: socket.address().port }),
  );
}

/**
 * Resolves when the host's own recording has written its first media to disk. The snippet file
 * appears empty when the muxer opens it, a few hundred ms before its first fragment is written.
 */
async function watchSnippet(recorder: LivestreamRecorder, hostId: string): Promise<void> {
  for (let i = 0; i < 3000 && !joinedAt.has(hostId); i++) {
    const rec = recorder.hostRecording(hostId);
    if (rec) {
      const names = await readdir(rec.dir).catch(() => [] as string[]);
      for (const name of names.filter((n) => /\.(mp4|mp3)$/.test(n))) {
        const size = (await stat(join(rec.dir, name)).catch(() => null))?.size ?? 0;
        if (size > 0) return joined(hostId, 'snippet-file');
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

let recorder: LivestreamRecorder | undefined;
let pool: MediaWorkerPool | undefined;
if (record) {
  // As on a node: hosts' recordings take media workers loaded ahead of need.
  pool = new MediaWorkerPool(spareMediaWorkers());
  await pool.loaded();
  recorder = new LivestreamRecorder({
    pool,
    ingest,
    livestreamId,
    composite: defaultProfile(DEFAULT_COMPOSITE_CANVAS),
    host: defaultProfile(DEFAULT_HOST_CANVAS),
    outDir: values.out ?? '.',
    onLog: (line) => {
      if (/warning|error|fail/i.test(line)) say({ event: 'warning', message: line });
    },
  });
  await recorder.start();
} else {
  ingest.openLivestream(livestreamId);
}

ingest.on('host', ({ livestreamId: l, event }) => {
  if (l !== livestreamId) return;
  if (event.type === 'joined') {
    if (recorder) void watchSnippet(recorder, event.hostId);
    else {
      void sink(event.hostId, 'video');
      void sink(event.hostId, 'audio');
    }
  } else if (event.type === 'left') {
    say({ event: 'left', hostId: event.hostId });
  }
});

const server = await startWhipServer({
  backend,
  tokenSecret: values.secret ?? '',
  host: '127.0.0.1',
  onError: (err) => say({ event: 'warning', message: String(err) }),
});

let quitting = false;
async function quit(): Promise<void> {
  if (quitting) return;
  quitting = true;
  await server.close().catch(() => undefined);
  await ingest.close().catch(() => undefined);
  await recorder?.stop().catch(() => undefined);
  await pool?.close().catch(() => undefined);
  for (const d of detaches) d();
  for (const s of sinks) s.close();
  process.exit(0);
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() === 'stats') void stats();
    else if (line.trim() === 'quit') void quit();
  })
  .on('close', () => void quit());
process.on('SIGTERM', () => void quit());

/**
 * Answers once the pool has replaced the spares the joins took: its new processes loading belong
 * to the joins, not to the steady state the bench measures after them.
 */
async function stats(): Promise<void> {
  await pool?.settled();
  const workerPids = (recorder?.recordings() ?? []).flatMap((r) =>
    r.worker.pid === undefined ? [] : [r.worker.pid],
  );
  say({ event: 'stats', packets, workerPids });
}

say({ event: 'ready', url: server.url });
