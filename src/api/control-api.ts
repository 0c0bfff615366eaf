import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { HostEvent } from '../domain/host-presence.ts';
import { isValidId } from '../domain/ids.ts';
import {
  parseCreateLivestream,
  parseHostControl,
  RequestError,
  type ControlEvent,
  type CreateLivestream,
} from '../domain/control-requests.ts';
import { bearerToken, readBody, send, sendProblem } from '../ingest/whip/http.ts';
import { OPENAPI } from './openapi.ts';

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}
export class ConflictError extends Error {
  override name = 'ConflictError';
}
/** Temporal or its workers did not answer in time: worth trying again. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}

/** What the API does; the node implements it over the ingest, Temporal and the store. */
export interface LivestreamService {
  create(request: CreateLivestream): Promise<unknown>;
  state(livestreamId: string): Promise<unknown>;
  stop(livestreamId: string): Promise<void>;
  control(livestreamId: string, hostId: string, event: ControlEvent): Promise<HostEvent[]>;
  recordings(livestreamId: string): Promise<unknown>;
  snippets(livestreamId: string, track: string | null): Promise<string[]>;
}

export interface ControlApiOptions {
  service: LivestreamService;
  apiKeys: string[];
  metrics: () => string;
  host?: string;
  port?: number;
  onError?: (err: unknown) => void;
}

export interface ControlApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

const JSON_TYPE = { 'Content-Type': 'application/json' };

export async function startControlApi(o: ControlApiOptions): Promise<ControlApi> {
  const keys = o.apiKeys.map((k) => Buffer.from(k));
  if (keys.length === 0) throw new Error('the control API needs at least one API key');
  const authorised = (req: IncomingMessage): boolean => {
    const given = Buffer.from(bearerToken(req) ?? '');
    // Every key is compared, so timing says nothing about which one nearly matched.
    return keys.map((k) => k.length === given.length && timingSafeEqual(k, given)).includes(true);
  };
  const json = async (req: IncomingMessage): Promise<unknown> => {
    const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (ct !== 'application/json') throw new RequestError('Content-Type must be application/json');
    const body = await readBody(req, 64 * 1024);
    if (!body.ok) throw new RequestError('body too large or aborted');
    try {
      return body.body.trim() === '' ? {} : JSON.parse(body.body);
    } catch {
      throw new RequestError('the body is not valid JSON');
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.split('/').filter(Boolean);
    if (url.pathname === '/openapi.json' && req.method === 'GET')
      return send(req, res, 200, JSON_TYPE, JSON.stringify(OPENAPI));
    if (url.pathname === '/metrics' && req.method === 'GET')
      return send(req, res, 200, { 'Content-Type': 'text/plain; version=0.0.4' }, o.metrics());
    if (url.pathname === '/healthz') return send(req, res, 200, JSON_TYPE, '{"ok":true}');
    if (path[0] !== 'v1' || path[1] !== 'livestreams')
      return sendProblem(req, res, 404, 'no such resource; see /openapi.json');
    if (!authorised(req))
      return sendProblem(req, res, 401, 'missing or wrong API key (Authorization: Bearer KEY)', {
        'WWW-Authenticate': 'Bearer',
      });
    const ids = [path[2], path[4]].filter((x) => x !== undefined);
    if (ids.some((id) => !isValidId(id)))
      return sendProblem(req, res, 400, 'ids are 1 to 64 of A-Z a-z 0-9 _ -');
    const [, , livestreamId, sub, hostId, leaf] = path;
    const ok = (status: number, value: unknown) =>
      send(req, res, status, JSON_TYPE, JSON.stringify(value));

    if (path.length === 2 && req.method === 'POST')
      return ok(201, await o.service.create(parseCreateLivestream(await json(req))));
    if (path.length === 3 && req.method === 'GET')
      return ok(200, await o.service.state(livestreamId!));
    if (path.length === 4 && sub === 'stop' && req.method === 'POST') {
      await o.service.stop(livestreamId!);
      return ok(202, { livestreamId, stopping: true });
    }
    if (path.length === 4 && sub === 'recordings' && req.method === 'GET')
      return ok(200, await o.service.recordings(livestreamId!));
    if (path.length === 4 && sub === 'snippets' && req.method === 'GET') {
      const track = url.searchParams.get('track');
      if (track !== null && !isValidId(track)) throw new RequestError('track is not a valid id');
      return ok(200, { keys: await o.service.snippets(livestreamId!, track) });
    }
    if (path.length === 6 && sub === 'hosts' && leaf === 'events' && req.method === 'POST') {
      const event = parseHostControl(await json(req));
      return ok(202, { events: await o.service.control(livestreamId!, hostId!, event) });
    }
    return sendProblem(
      req,
      res,
      path.length <= 6 ? 405 : 404,
      `${req.method} ${url.pathname} is not part of the API`,
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof RequestError) return sendProblem(req, res, 400, err.message);
      if (err instanceof NotFoundError) return sendProblem(req, res, 404, err.message);
      if (err instanceof ConflictError) return sendProblem(req, res, 409, err.message);
      if (err instanceof UnavailableError)
        return sendProblem(req, res, 503, err.message, { 'Retry-After': '5' });
      o.onError?.(err);
      sendProblem(req, res, 500, 'the request failed; see the node log');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : 0;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
