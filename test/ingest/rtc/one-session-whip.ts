import assert from 'node:assert/strict';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rtpCaps, type ChosenCodec } from '../../../src/ingest/rtc/offer.ts';
import { WeriftSession } from '../../../src/ingest/rtc/werift-session.ts';
import { spawnTracked } from '../../support/children.ts';

const sessions = new Set<WeriftSession>();
const servers: Server[] = [];

/** Closes every session and server the helpers below opened; for afterEach. */
export async function closeWhipServers(): Promise<void> {
  await Promise.all([...sessions].map((s) => s.close()));
  sessions.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface OneSessionWhip {
  url: string;
  created: Promise<WeriftSession>;
  deleted: Promise<void>;
}

/** Just enough WHIP (RFC 9725) for one publisher: POST creates a session, DELETE ends it. */
export async function oneSessionWhip(forward: {
  video: number;
  audio: number;
}): Promise<OneSessionWhip> {
  let resolveCreated!: (s: WeriftSession) => void;
  let resolveDeleted!: () => void;
  const created = new Promise<WeriftSession>((r) => (resolveCreated = r));
  const deleted = new Promise<void>((r) => (resolveDeleted = r));
  let session: WeriftSession | undefined;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method === 'POST' && req.url === '/whip') {
      session = new WeriftSession({
        offer: await readBody(req),
        forward: { video: { port: forward.video }, audio: { port: forward.audio } },
      });
      sessions.add(session);
      const answer = await session.start();
      res.writeHead(201, { 'Content-Type': 'application/sdp', Location: '/whip/session-1' });
      res.end(answer);
      resolveCreated(session);
    } else if (req.method === 'DELETE' && req.url === '/whip/session-1' && session) {
      await session.close();
      res.writeHead(200).end();
      resolveDeleted();
    } else {
      res.writeHead(404).end();
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => res.writeHead(500).end(err.message));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { url: `http://127.0.0.1:${address.port}/whip`, created, deleted };
}

/**
 * A gst-launch recorder of one session's H.264 and Opus into MP4, independent of tapedeck's
 * media engine. rtpjitterbuffer mode=none takes timestamps from RTP alone: the default mode left
 * early video buffers without PTS (mp4mux refuses those) when the first packets arrived in a
 * burst right after DTLS. Its rtpsession sends PLI to the session's feedback port when the
 * depayloader loses sync (at its first packet, too): the demuxers name the SSRC and payload type
 * in the depayloader's request, without which rtpsession passes it on instead of sending a PLI.
 */
export function spawnRtpRecorder(o: {
  session: WeriftSession;
  video: ChosenCodec;
  audio: ChosenCodec;
  ports: { video: number; audio: number };
  out: string;
  stdio: StdioOptions;
}): ChildProcess {
  return spawnTracked(
    'gst-launch-1.0',
    [
      '-e',
      ...`rtpsession name=vs rtp-profile=avpf
        udpsrc port=${o.ports.video} buffer-size=4194304 caps="${rtpCaps(o.video)},rtcp-fb-nack-pli=(int)1" ! vs.recv_rtp_sink
        vs.recv_rtp_src ! rtpssrcdemux ! rtpjitterbuffer latency=200 mode=none ! rtpptdemux ! rtph264depay request-keyframe=true ! h264parse ! queue ! mux.
        vs.send_rtcp_src ! udpsink host=127.0.0.1 port=${o.session.feedbackPort('video')} sync=false async=false
        udpsrc port=${o.ports.audio} caps="${rtpCaps(o.audio)}" ! rtpjitterbuffer latency=200 mode=none ! rtpopusdepay ! opusdec ! audioconvert ! audioresample ! avenc_aac ! aacparse ! queue ! mux.
        mp4mux name=mux ! filesink location=${o.out}`
        .split(/\s+/)
        .filter((token) => token !== '')
        .map((token) => token.replaceAll('"', '')),
    ],
    { stdio: o.stdio },
  );
}
