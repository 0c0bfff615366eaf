import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isValidId } from '../../domain/ids.ts';
import { DEFAULT_MAX_SDP_BYTES, parseOffer, planRecording } from '../../domain/sdp-offer.ts';
import { verifyToken, WhipTokenError, type WhipTokenClaims } from '../../domain/whip-token.ts';
import { AlreadyPublishingError, AtCapacityError, type SessionBackend } from './backend.ts';
import { bearerToken, isSdpContentType, readBody, send, sendProblem } from './http.ts';

export interface WhipServerOptions {
  backend: SessionBackend;
  tokenSecret: string | Buffer;
  /** Default 127.0.0.1: publishers reach us through a proxy or on loopback in tests. */
  host?: string;
  /** 0 picks any free port. */
  port?: number;
  allowOrigin?: string;
  maxBodyBytes?: number;
  /** Bounds the whole request (headers and body), which is what stops slowloris. */
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  maxHeaderBytes?: number;
  now?: () => number;
  /** Backend failures go here; clients only learn that something failed. */
  onError?: (err: unknown) => void;
}

export interface WhipServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Route =
  | { kind: 'endpoint'; livestreamId: string; hostId: string }
  | { kind: 'session'; livestreamId: string; hostId: string; sessionId: string };

const ENDPOINT_ALLOW = 'OPTIONS, POST';
const SESSION_ALLOW = 'OPTIONS, DELETE';

function route(rawUrl: string): Route | { error: 400 | 404; detail: string } {
  const path = rawUrl.split('?')[0] ?? '';
  if (!path.startsWith('/whip/')) return { error: 404, detail: 'not a WHIP path' };
  const segs = path.slice('/whip/'.length).split('/');
  // Ids are plain [A-Za-z0-9_-], so ".." and percent-encoded slashes fail here, before any lookup.
  const bad = segs.find((s) => !isValidId(s));
  if (bad !== undefined) return { error: 400, detail: 'path holds an invalid id' };
  const [livestreamId, hostId, word, sessionId] = segs as [string, string, string, string];
  if (segs.length === 2) return { kind: 'endpoint', livestreamId, hostId };
  if (segs.length === 4 && word === 'sessions')
    return { kind: 'session', livestreamId, hostId, sessionId };
  return { error: 404, detail: 'no such WHIP resource' };
}

function etagOf(sessionId: string, answer: string): string {
  return `"${createHash('sha256').update(sessionId).update('\n').update(answer).digest('base64url').slice(0, 22)}"`;
}

export async function startWhipServer(opts: WhipServerOptions): Promise<WhipServer> {
  const { backend } = opts;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_SDP_BYTES;
  const now = opts.now ?? Date.now;
  const onError = opts.onError ?? ((err: unknown) => console.error('whip: backend failure', err));
  const cors = {
    'Access-Control-Allow-Origin': opts.allowOrigin ?? '*',
    'Access-Control-Expose-Headers': 'Location, ETag, Link',
  };
  // Two POSTs for one host racing past isPublishing would both reach the backend.
  const publishing = new Set<string>();

  const problem = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    detail: string,
    headers: Record<string, string> = {},
  ) => sendProblem(req, res, status, detail, { ...cors, ...headers });

  /** Answers 401/403 itself and returns undefined, or returns the claims. */
  function authorize(req: IncomingMessage, res: ServerResponse, r: Route) {
    const token = bearerToken(req);
    if (token === undefined) {
      problem(req, res, 401, 'a Bearer token is required', { 'WWW-Authenticate': 'Bearer' });
      return undefined;
    }
    let claims: WhipTokenClaims;
    try {
      claims = verifyToken(opts.tokenSecret, token, now());
    } catch (err) {
      if (!(err instanceof WhipTokenError)) throw err;
      problem(req, res, 401, err.message, {
        'WWW-Authenticate': 'Bearer error="invalid_token"',
      });
      return undefined;
    }
    if (claims.livestreamId !== r.livestreamId || claims.hostId !== r.hostId) {
      problem(req, res, 403, 'token is for another livestream or host');
      return undefined;
    }
    return claims;
  }

  async function publish(
    req: IncomingMessage,
    res: ServerResponse,
    r: Route & { kind: 'endpoint' },
  ) {
    if (!authorize(req, res, r)) return;
    if (!isSdpContentType(req))
      return problem(req, res, 415, 'Content-Type must be application/sdp', {
        'Accept-Post': 'application/sdp',
      });
    if (!backend.hasLivestream(r.livestreamId)) return problem(req, res, 404, 'unknown livestream');
    const body = await readBody(req, maxBody);
    if (!body.ok) {
      if (body.reason === 'too-large') problem(req, res, 413, `SDP offer is over ${maxBody} bytes`);
      return;
    }
    const parsed = parseOffer(body.body, maxBody);
    if (!parsed.ok) return problem(req, res, 400, `malformed SDP: ${parsed.reason}`);
    const planned = planRecording(parsed.offer);
    if (!planned.ok) return problem(req, res, 422, planned.reason);

    const key = `${r.livestreamId}/${r.hostId}`;
    if (publishing.has(key) || backend.isPublishing(r.livestreamId, r.hostId))
      return problem(req, res, 409, 'host is already publishing');
    publishing.add(key);
    try {
      const { sessionId, answerSdp } = await backend.createSession({
        livestreamId: r.livestreamId,
        hostId: r.hostId,
        offer: parsed.offer,
        offerSdp: body.body,
        plan: planned.plan,
      });
      if (!isValidId(sessionId)) {
        await backend.deleteSession(sessionId).catch(onError);
        throw new Error(`backend returned an invalid session id ${JSON.stringify(sessionId)}`);
      }
      if (res.destroyed) {
        // Nobody will learn the Location, so nobody could ever DELETE this session.
        await backend.deleteSession(sessionId).catch(onError);
        return;
      }
      send(
        req,
        res,
        201,
        {
          ...cors,
          'Content-Type': 'application/sdp',
          Location: `/whip/${r.livestreamId}/${r.hostId}/sessions/${sessionId}`,
          ETag: etagOf(sessionId, answerSdp),
        },
        answerSdp,
      );
    } catch (err) {
      if (err instanceof AtCapacityError)
        return problem(req, res, 503, 'ingest is at capacity', {
          'Retry-After': String(err.retryAfterSeconds),
        });
      if (err instanceof AlreadyPublishingError)
        return problem(req, res, 409, 'host is already publishing');
      onError(err);
      problem(req, res, 500, 'the session could not be created');
    } finally {
      publishing.delete(key);
    }
  }

  async function end(req: IncomingMessage, res: ServerResponse, r: Route & { kind: 'session' }) {
    if (!authorize(req, res, r)) return;
    const owner = backend.sessionOwner(r.sessionId);
    if (owner === null) return problem(req, res, 404, 'unknown session');
    if (owner.livestreamId !== r.livestreamId || owner.hostId !== r.hostId)
      return problem(req, res, 403, 'session belongs to another host');
    try {
      await backend.deleteSession(r.sessionId);
    } catch (err) {
      onError(err);
      return problem(req, res, 500, 'the session could not be ended');
    }
    send(req, res, 200, { ...cors }, undefined);
  }

  function preflight(req: IncomingMessage, res: ServerResponse, allow: string) {
    send(req, res, 204, {
      ...cors,
      Allow: allow,
      'Access-Control-Allow-Methods': allow,
      'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
      'Access-Control-Max-Age': '86400',
      ...(allow === ENDPOINT_ALLOW ? { 'Accept-Post': 'application/sdp' } : {}),
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const r = route(req.url ?? '');
    if ('error' in r) return problem(req, res, r.error, r.detail);
    const method = req.method ?? '';
    if (r.kind === 'endpoint') {
      if (method === 'OPTIONS') return preflight(req, res, ENDPOINT_ALLOW);
      if (method === 'POST') return publish(req, res, r);
      return problem(req, res, 405, `${method} is not allowed here`, { Allow: ENDPOINT_ALLOW });
    }
    if (method === 'OPTIONS') return preflight(req, res, SESSION_ALLOW);
    if (method === 'DELETE') return end(req, res, r);
    // RFC 9725 §4.3.1: an endpoint supporting neither trickle ICE nor ICE restarts
    // MUST answer PATCH on the session URL with 405 Method Not Allowed.
    if (method === 'PATCH')
      return problem(req, res, 405, 'trickle ICE and ICE restarts are not supported', {
        Allow: SESSION_ALLOW,
      });
    return problem(req, res, 405, `${method} is not allowed here`, { Allow: SESSION_ALLOW });
  }

  const requestTimeout = opts.requestTimeoutMs ?? 15_000;
  const server = createServer(
    {
      maxHeaderSize: opts.maxHeaderBytes ?? 16 * 1024,
      requestTimeout,
      // Node checks the timeouts only this often (30 s by default), too lax for short limits.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, requestTimeout / 4)),
    },
    (req, res) => {
      // An aborted upload must never surface as an unhandled 'error' event.
      req.on('error', () => {});
      res.on('error', () => {});
      handle(req, res).catch((err: unknown) => {
        onError(err);
        if (!res.headersSent) sendProblem(req, res, 500, 'internal error', cors);
        else res.destroy();
      });
    },
  );
  server.headersTimeout = Math.min(opts.headersTimeoutMs ?? 10_000, requestTimeout);
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('WHIP server has no TCP address');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
