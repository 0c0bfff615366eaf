import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isValidId } from '../../domain/ids.ts';
import type { WorkerMetrics } from '../../domain/worker-metrics.ts';
import type { IngestPort, RecorderPorts, SharedVideoGrant } from '../ingest-port.ts';
import { bearerToken, readBody, send, sendProblem } from '../whip/http.ts';

export interface NodeApiServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The ingest of a node as seen by its media workers in other processes: loopback only, and a
 * secret shared with the processes the node starts. A recorder that restarts finds the hosts as
 * they are and attaches its new ports under its old owner name.
 */
export async function startNodeApi(o: {
  ingest: IngestPort;
  secret: string;
  port?: number;
  /** A worker's counters, reported every few seconds. */
  onWorkerMetrics?: (slot: number, metrics: WorkerMetrics) => void;
  onError?: (err: unknown) => void;
}): Promise<NodeApiServer> {
  const secret = Buffer.from(o.secret);
  const authorised = (req: IncomingMessage): boolean => {
    const given = Buffer.from(bearerToken(req) ?? '');
    return given.length === secret.length && timingSafeEqual(given, secret);
  };
  const streams = new Set<ServerResponse>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!authorised(req)) return sendProblem(req, res, 401, 'node secret required');
    const path = (req.url ?? '').split('?')[0]!.split('/').filter(Boolean);
    // node/v1/workers/SLOT/metrics
    if (
      path[2] === 'workers' &&
      path.length === 5 &&
      path[4] === 'metrics' &&
      req.method === 'PUT'
    ) {
      const slot = Number(path[3]);
      const body = await readBody(req, 16 * 1024);
      if (!Number.isInteger(slot) || slot < 0 || !body.ok)
        return sendProblem(req, res, 400, 'slot or body not acceptable');
      try {
        const m = JSON.parse(body.body) as WorkerMetrics;
        if (!Number.isInteger(m.pid) || typeof m.deliveryLatency?.count !== 'number')
          throw new Error('not worker metrics');
        o.onWorkerMetrics?.(slot, m);
      } catch (err) {
        return sendProblem(req, res, 400, (err as Error).message);
      }
      return send(req, res, 204, {});
    }
    // node/v1/shared-decode: {enabled}
    if (path.join('/') === 'node/v1/shared-decode' && req.method === 'GET') {
      const enabled = await o.ingest.sharesDecoding();
      return send(
        req,
        res,
        200,
        { 'Content-Type': 'application/json' },
        JSON.stringify({ enabled }),
      );
    }
    // node/v1/livestreams/LS/(hosts|events)[/HOST/recorders/OWNER]
    if (path[0] !== 'node' || path[1] !== 'v1' || path[2] !== 'livestreams')
      return sendProblem(req, res, 404, 'no such resource');
    const ids = [path[3], path[5], path.length === 8 ? path[7] : undefined].filter(
      (x) => x !== undefined,
    );
    if (ids.some((id) => !isValidId(id))) return sendProblem(req, res, 400, 'invalid id in path');
    const livestreamId = path[3]!;
    if (path.length === 5 && path[4] === 'hosts' && req.method === 'GET') {
      const body = JSON.stringify(await o.ingest.hosts(livestreamId));
      return send(req, res, 200, { 'Content-Type': 'application/json' }, body);
    }
    if (path.length === 5 && path[4] === 'events' && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
      streams.add(res);
      const write = (value: unknown) => res.write(`${JSON.stringify(value)}\n`);
      const sub = o.ingest.follow(livestreamId, {
        onSnapshot: (hosts) => write({ snapshot: hosts }),
        onEvent: (event) => write({ event }),
      });
      // Keeps proxies and the client's idle timer from closing a quiet stream.
      const keepalive = setInterval(() => res.write('\n'), 10_000);
      res.on('close', () => {
        clearInterval(keepalive);
        sub.close();
        streams.delete(res);
      });
      return;
    }
    if (
      path.length === 7 &&
      path[4] === 'hosts' &&
      path[6] === 'feedback' &&
      req.method === 'GET'
    ) {
      let port: number;
      try {
        port = await o.ingest.feedbackPort(livestreamId, path[5]!);
      } catch (err) {
        return sendProblem(req, res, 404, (err as Error).message);
      }
      return send(req, res, 200, { 'Content-Type': 'application/json' }, JSON.stringify({ port }));
    }
    // node/v1/livestreams/LS/hosts/HOST/shared-video?fps=N&reader=composite|host: a grant or null
    if (
      path.length === 7 &&
      path[4] === 'hosts' &&
      path[6] === 'shared-video' &&
      req.method === 'GET'
    ) {
      const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
      const fps = Number(query.get('fps'));
      if (!Number.isInteger(fps) || fps < 1 || fps > 120)
        return sendProblem(req, res, 400, 'fps must be a whole number from 1 to 120');
      const reader = query.get('reader') ?? 'composite';
      if (reader !== 'composite' && reader !== 'host')
        return sendProblem(req, res, 400, 'reader must be composite or host');
      let grant: SharedVideoGrant | null;
      try {
        grant = await o.ingest.sharedVideo(livestreamId, path[5]!, fps, reader);
      } catch (err) {
        return sendProblem(req, res, 404, (err as Error).message);
      }
      return send(req, res, 200, { 'Content-Type': 'application/json' }, JSON.stringify(grant));
    }
    if (path.length === 8 && path[4] === 'hosts' && path[6] === 'recorders') {
      const [hostId, owner] = [path[5]!, path[7]!];
      if (req.method === 'DELETE') {
        await o.ingest.detach(livestreamId, hostId, owner);
        return send(req, res, 204, {});
      }
      if (req.method === 'PUT') {
        const body = await readBody(req, 4096);
        if (!body.ok) return sendProblem(req, res, 413, 'body too large');
        let ports: RecorderPorts;
        try {
          ports = parsePorts(JSON.parse(body.body));
        } catch (err) {
          return sendProblem(req, res, 400, (err as Error).message);
        }
        try {
          await o.ingest.attach(livestreamId, hostId, owner, ports);
        } catch (err) {
          return sendProblem(req, res, 404, (err as Error).message);
        }
        return send(req, res, 204, {});
      }
    }
    return sendProblem(req, res, 404, 'no such resource');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.onError?.(err);
      sendProblem(req, res, 500, 'node API failed');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of streams) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function parsePorts(value: unknown): RecorderPorts {
  if (typeof value !== 'object' || value === null) throw new Error('body must be a JSON object');
  const out: RecorderPorts = {};
  for (const [kind, port] of Object.entries(value)) {
    if (kind !== 'video' && kind !== 'audio') throw new Error(`unknown media kind "${kind}"`);
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
      throw new Error(`${kind} port must be 1..65535`);
    out[kind] = port as number;
  }
  return out;
}
