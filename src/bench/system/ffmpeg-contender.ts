/**
 * The plain ffmpeg-based recorder `tapedeck bench system` compares with: the same node's WHIP
 * ingest terminates the same synthetic hosts, and copies of their RTP go to one ffmpeg per
 * recording (a composite of the livestream's four hosts and one per host), each decoding,
 * encoding with libx264 and AAC at tapedeck's settings and cutting 15-second MP4 segments.
 * No Temporal, store, bus or scoring: only the media work, which is what it is compared on.
 */
import { createSocket } from 'node:dgram';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputProfile } from '../../domain/profile.ts';
import { issueToken } from '../../domain/whip-token.ts';
import type { ChosenCodec } from '../../ingest/rtc/offer.ts';
import type { RunningNode } from '../../node/node.ts';
import { runFfmpegRecorder, type FfmpegRun } from '../ffmpeg-recorder.ts';
import { LoadPublisher, type LoadOptions } from './load-publisher.ts';
import {
  arrivalTotals,
  ingestLossProblems,
  notPublishingProblems,
  recorderMissProblems,
  type HostArrivals,
} from './recording-figures.ts';
import { watchProcessTable, type ProcessRow } from './process-table.ts';

export interface RtpStream {
  port: number;
  codec: Pick<ChosenCodec, 'codec' | 'payloadType' | 'clockRate' | 'fmtp'>;
}

/** An SDP that has ffmpeg listen for one host's RTP on 127.0.0.1. */
export function rtpSdp(name: string, video: RtpStream | null, audio: RtpStream): string {
  const media = (kind: 'video' | 'audio', s: RtpStream) => {
    const encoding =
      s.codec.codec === 'OPUS'
        ? `opus/${s.codec.clockRate}/2`
        : `${s.codec.codec}/${s.codec.clockRate}`;
    return [
      `m=${kind} ${s.port} RTP/AVP ${s.codec.payloadType}`,
      `a=rtpmap:${s.codec.payloadType} ${encoding}`,
      ...(s.codec.fmtp ? [`a=fmtp:${s.codec.payloadType} ${s.codec.fmtp}`] : []),
    ];
  };
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    `s=${name}`,
    'c=IN IP4 127.0.0.1',
    't=0 0',
    ...(video ? media('video', video) : []),
    ...media('audio', audio),
    '',
  ].join('\r\n');
}

/** An even UDP port whose next one (RTCP, for ffmpeg) is free as well, on 127.0.0.1. */
export async function freeRtpPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + 2 * Math.floor(Math.random() * 20_000);
    if (taken.has(port)) continue;
    const free = await Promise.all([port, port + 1].map(udpFree));
    if (free.every(Boolean)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free pair of UDP ports on 127.0.0.1');
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export interface FfmpegRoundOptions {
  node: RunningNode;
  livestreams: number;
  hosts: number;
  warmupSec: number;
  windowSec: number;
  outDir: string;
  composite: OutputProfile;
  host: OutputProfile;
  load: LoadOptions;
  progress: (line: string) => void;
}

export interface FfmpegRound {
  livestreams: number;
  recorders: number;
  rows: ProcessRow[];
  /** Segments of at least one byte the recorders wrote. */
  segments: number;
  /** Judged like a tapedeck round: nothing lost on the way in or at the recorders, none ended. */
  holds: boolean;
  problems: string[];
  arrivals: HostArrivals[];
  /**
   * RTP packets the recorders said they never got in the window, and about how many were sent
   * to them then; and those they missed before it, while they started.
   */
  recorderRtp: { forwarded: number; missed: number; missedBeforeWindow: number };
}

async function waitForMedia(
  node: RunningNode,
  livestreamId: string,
  hosts: number,
  timeoutMs: number,
): Promise<Map<string, { video: ChosenCodec; audio: ChosenCodec }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = new Map<string, { video: ChosenCodec; audio: ChosenCodec }>();
    for (const h of node.ingest.snapshot(livestreamId))
      if (h.presence.connection === 'publishing' && h.media?.video && h.media.audio)
        ready.set(h.hostId, { video: h.media.video, audio: h.media.audio });
    if (ready.size >= hosts) return ready;
    if (Date.now() > deadline)
      throw new Error(`${livestreamId}: ${ready.size} of ${hosts} hosts publishing`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function runFfmpegRound(o: FfmpegRoundOptions): Promise<FfmpegRound> {
  // Its own ids each round, as tapedeck's rounds have: a repeated round opens new livestreams.
  const tag = Date.now().toString(36).slice(-5);
  const ids = Array.from(
    { length: o.livestreams },
    (_, i) => `ffmpeg-${o.livestreams}-${i + 1}-${tag}`,
  );
  const hostIds = Array.from({ length: o.hosts }, (_, i) => `h${i + 1}`);
  const recorders: FfmpegRun[] = [];
  const detach: (() => void)[] = [];
  let publisher: LoadPublisher | undefined;
  const allArrivals = () =>
    ids.flatMap((livestreamId) =>
      o.node.ingest.arrivals(livestreamId).map((a) => ({ livestreamId, ...a })),
    );
  const problems: string[] = [];
  try {
    const sessions = ids.flatMap((livestreamId) => {
      o.node.ingest.openLivestream(livestreamId);
      return hostIds.map((hostId) => ({
        url: `${o.node.whipUrl}/whip/${livestreamId}/${hostId}`,
        token: issueToken(o.node.whipSecret, {
          livestreamId,
          hostId,
          expiresAt: Date.now() + 24 * 3_600_000,
        }),
      }));
    });
    publisher = LoadPublisher.start(sessions, o.load);
    await publisher.connected(sessions.length, 60_000);
    const taken = new Set<number>();
    for (const livestreamId of ids) {
      const media = await waitForMedia(o.node, livestreamId, o.hosts, 30_000);
      const dir = join(o.outDir, livestreamId);
      await mkdir(dir, { recursive: true });
      const listen = async (recording: string, hostId: string) => {
        const m = media.get(hostId)!;
        const video = { port: await freeRtpPort(taken), codec: m.video };
        const audio = { port: await freeRtpPort(taken), codec: m.audio };
        const file = join(dir, `${recording}-${hostId}.sdp`);
        await writeFile(file, rtpSdp(`${livestreamId}/${hostId}`, video, audio));
        return { file, hostId, video, audio };
      };
      const plan = [
        {
          name: 'composite',
          profile: o.composite,
          inputs: await Promise.all(hostIds.map((h) => listen('composite', h))),
        },
        ...(await Promise.all(
          hostIds.map(async (h) => ({
            name: `host-${h}`,
            profile: o.host,
            inputs: [await listen(`host-${h}`, h)],
          })),
        )),
      ];
      for (const p of plan) {
        const v = p.profile.video;
        recorders.push(
          runFfmpegRecorder({
            kind: p.name === 'composite' ? 'composite' : 'host',
            inputs: p.inputs.length,
            durationSec: Infinity,
            outDir: join(dir, p.name),
            canvas: { width: v.width, height: v.height },
            fps: v.fps,
            gopFrames: Math.max(1, Math.round(v.fps * v.gopSeconds)),
            videoKbps: v.bitrateKbps,
            preset: v.preset,
            audioKbps: p.profile.audio.bitrateKbps,
            audioChannels: p.profile.audio.channels,
            snippetSec: p.profile.snippetSeconds,
            sdpInputs: p.inputs.map((i) => i.file),
          }),
        );
      }
      // ffmpeg has its sockets open a moment after it starts; a packet before that is lost
      // like any other, and the next keyframe (every 2 s) starts the picture.
      await new Promise((r) => setTimeout(r, 1_000));
      for (const p of plan)
        for (const i of p.inputs) {
          detach.push(
            o.node.ingest.attach(livestreamId, i.hostId, 'video', { port: i.video.port }),
          );
          detach.push(
            o.node.ingest.attach(livestreamId, i.hostId, 'audio', { port: i.audio.port }),
          );
        }
    }
    o.progress(
      `ffmpeg: ${recorders.length} recorders on ${ids.length} livestream(s); warming up ${o.warmupSec} s…`,
    );
    await new Promise((r) => setTimeout(r, o.warmupSec * 1000));
    // Judged on the window, like tapedeck's round: a composite's ffmpeg opens its four SDP inputs
    // one after another, probing each, and the sockets it opened first overflow meanwhile. That
    // start-up loss (about 1 % of a minute's packets) says nothing about keeping real time.
    const missedBefore = recorders.reduce((n, r) => n + r.rtpMissed(), 0);
    const forwardedBefore = 2 * arrivalTotals(allArrivals()).packets;
    const pub = publisher;
    const table = watchProcessTable(process.pid, () => (pub.pid ? [pub.pid] : []));
    o.progress(`ffmpeg: measuring ${o.windowSec} s…`);
    await new Promise((r) => setTimeout(r, o.windowSec * 1000));
    const rows = table.stop();
    // Read before the stop: closing a livestream forgets its hosts.
    const arrivals = allArrivals();
    const atEnd = ids.flatMap((livestreamId) =>
      o.node.ingest
        .snapshot(livestreamId)
        .map((h) => ({ livestreamId, hostId: h.hostId, connection: h.presence.connection })),
    );
    // Each host's packets go to two recorders: its own and its livestream's composite.
    const recorderRtp = {
      forwarded: 2 * arrivalTotals(arrivals).packets - forwardedBefore,
      missed: recorders.reduce((n, r) => n + r.rtpMissed(), 0) - missedBefore,
      missedBeforeWindow: missedBefore,
    };
    problems.push(
      ...pub.problems(),
      ...notPublishingProblems(atEnd),
      ...ingestLossProblems(arrivals),
      ...recorderMissProblems(recorderRtp.missed, recorderRtp.forwarded),
    );
    for (const [i, r] of recorders.entries())
      if (r.child.exitCode !== null)
        problems.push(
          `ffmpeg recorder ${i + 1} exited early: ${r.stderrTail().trim().slice(-300)}`,
        );
    await Promise.all(recorders.splice(0).map((r) => r.stop('SIGINT')));
    let segments = 0;
    for (const livestreamId of ids) {
      const dir = join(o.outDir, livestreamId);
      for (const name of await readdir(dir)) {
        if (name.endsWith('.sdp')) continue;
        for (const f of await readdir(join(dir, name)).catch(() => [] as string[]))
          if ((await stat(join(dir, name, f))).size > 0) segments += 1;
      }
    }
    return {
      livestreams: o.livestreams,
      recorders: 5 * o.livestreams,
      rows,
      segments,
      holds: problems.length === 0,
      problems,
      arrivals,
      recorderRtp,
    };
  } finally {
    for (const d of detach) d();
    await Promise.all(recorders.map((r) => r.stop('SIGKILL')));
    await publisher?.stop();
    for (const id of ids) await o.node.ingest.closeLivestream(id).catch(() => undefined);
  }
}
