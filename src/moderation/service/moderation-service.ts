import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isValidId } from '../../domain/ids.ts';
import {
  decisionProblems,
  reviewDraftProblems,
  type Decision,
  type ReviewDraft,
  type ReviewStatus,
} from '../../domain/review.ts';
import { NotFoundError, StoreError, type ObjectStore } from '../../delivery/store/port.ts';
import { bearerToken, readBody, send } from '../../ingest/whip/http.ts';
import {
  ModerationInputError,
  ReviewClosedError,
  ReviewNotFoundError,
  type ReviewQuery,
} from '../review-port.ts';
import { Authenticator, type ModerationTokens, type Principal } from './auth.ts';
import { ClipCache, DEFAULT_CLIP_CACHE_BYTES, parseRange } from './clip-cache.ts';
import { MODERATION_OPENAPI } from './moderation-openapi.ts';
import { IdempotencyConflictError, ReviewDb } from './review-db.ts';

export type { ModerationTokens } from './auth.ts';

export interface ModerationServiceOptions {
  /** Holds the database (moderation.sqlite) and the clip cache; made if missing. */
  dataDir: string;
  /** Where the merged clips are. */
  store: ObjectStore;
  tokens: ModerationTokens;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Bytes of clips kept in DATA/clip-cache. Default 2 GiB. */
  clipCacheBytes?: number;
  /** How long a page login lasts. Default 12 h. */
  sessionTtlMs?: number;
  /** Failures that are not the caller's fault (answered with 500). */
  onError?: (err: unknown) => void;
}

export interface ModerationService {
  /** e.g. http://127.0.0.1:8082; the reviewer page is at its root. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export const BODY_LIMIT = 256 * 1024;
export const SESSION_COOKIE = 'tapedeck_review_session';

const JSON_TYPE = 'application/json';
const WEB_DIR = new URL('./web/', import.meta.url);
const IDEMPOTENCY_KEY = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;
const STATUSES: readonly ReviewStatus[] = ['open', 'approved', 'violation'];
const QUERY_MAX = 512;

/** A refusal with a status, e.g. 400 with every problem of the request listed. */
class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems?: string[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const BASE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

function problem(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  detail: string,
  extra: { problems?: string[] | undefined; headers?: Record<string, string> } = {},
): void {
  const doc = {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    ...(extra.problems ? { problems: extra.problems } : {}),
  };
  send(
    req,
    res,
    status,
    { ...BASE_HEADERS, ...extra.headers, 'Content-Type': 'application/problem+json' },
    JSON.stringify(doc),
  );
}

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** Set on every route that needs credentials. */
  principal: Principal;
}

interface Route {
  method: 'GET' | 'POST';
  /** A template as in the OpenAPI document, e.g. /v1/reviews/{id}. */
  path: string;
  /** Routes without credentials: the page, the document, login. */
  open?: boolean;
  handle(ctx: Context): Promise<void> | void;
}

/** The routes the service answers, method and path template; the OpenAPI test walks these. */
export function moderationRoutes(): { method: string; path: string }[] {
  return routeTable(null).map((r) => ({ method: r.method, path: r.path }));
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct !== JSON_TYPE)
    throw new HttpProblem(415, 'Content-Type must be application/json', undefined, {
      'Accept-Post': JSON_TYPE,
    });
  const body = await readBody(req, BODY_LIMIT);
  if (!body.ok) {
    if (body.reason === 'too-large')
      throw new HttpProblem(413, `the body is larger than ${BODY_LIMIT / 1024} KiB`);
    throw new HttpProblem(400, 'the request body was cut off');
  }
  try {
    return JSON.parse(body.body);
  } catch (err) {
    throw new HttpProblem(400, `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function idempotencyKey(req: IncomingMessage): string {
  const key = req.headers['idempotency-key'];
  if (typeof key !== 'string' || key === '')
    throw new HttpProblem(
      400,
      'the Idempotency-Key header is required: send a unique string, and the same one again when retrying',
    );
  if (!IDEMPOTENCY_KEY.test(key))
    throw new HttpProblem(400, 'the Idempotency-Key must be 1 to 255 printable ASCII characters');
  return key;
}

async function draftBody(req: IncomingMessage): Promise<ReviewDraft> {
  const value = await jsonBody(req);
  const problems = reviewDraftProblems(value);
  if (problems.length)
    throw new HttpProblem(400, `the review draft is not valid: ${problems.join('; ')}`, problems);
  return value as ReviewDraft;
}

function queryValue(url: URL, name: string): string | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  if (v.length > QUERY_MAX) throw new HttpProblem(400, `${name} is too long`);
  return v;
}

function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

interface Deps {
  db: ReviewDb;
  auth: Authenticator;
  clips: ClipCache;
  web: Record<string, { type: string; body: string }>;
}

function routeTable(d: Deps | null): Route[] {
  // moderationRoutes() reads only methods and paths; handlers run with real deps.
  const deps = () => d!;
  const ok = (ctx: Context, status: number, value: unknown, headers: Record<string, string> = {}) =>
    send(
      ctx.req,
      ctx.res,
      status,
      { ...BASE_HEADERS, ...headers, 'Content-Type': JSON_TYPE },
      JSON.stringify(value),
    );
  const page = (name: string) => (ctx: Context) => {
    const file = deps().web[name]!;
    send(
      ctx.req,
      ctx.res,
      200,
      {
        ...BASE_HEADERS,
        'Content-Type': file.type,
        // The page only talks to this origin and runs only its own script.
        'Content-Security-Policy':
          "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
          "media-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        'X-Frame-Options': 'DENY',
      },
      file.body,
    );
  };
  return [
    { method: 'GET', path: '/', open: true, handle: page('index.html') },
    { method: 'GET', path: '/app.js', open: true, handle: page('app.js') },
    { method: 'GET', path: '/app.css', open: true, handle: page('app.css') },
    {
      method: 'GET',
      path: '/healthz',
      open: true,
      handle: (ctx) => ok(ctx, 200, { ok: true }),
    },
    {
      method: 'GET',
      path: '/openapi.json',
      open: true,
      handle: (ctx) => ok(ctx, 200, MODERATION_OPENAPI),
    },
    {
      method: 'POST',
      path: '/v1/login',
      open: true,
      async handle(ctx) {
        if (!sameOrigin(ctx.req)) throw new HttpProblem(403, 'log in from the reviewer page');
        const v = (await jsonBody(ctx.req)) as { name?: unknown; token?: unknown } | null;
        if (typeof v?.name !== 'string' || typeof v.token !== 'string')
          throw new HttpProblem(400, 'send {"name": "...", "token": "..."}');
        const session = deps().auth.login(v.name.trim(), v.token.trim());
        if (!session) throw new HttpProblem(401, 'that name and token do not belong to a reviewer');
        const maxAge = Math.floor(deps().auth.sessionTtlMs / 1000);
        ok(ctx, 200, session.principal, {
          'Set-Cookie': `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`,
        });
      },
    },
    {
      method: 'POST',
      path: '/v1/logout',
      open: true,
      handle(ctx) {
        deps().auth.logout(cookie(ctx.req, SESSION_COOKIE));
        send(ctx.req, ctx.res, 204, {
          ...BASE_HEADERS,
          'Set-Cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`,
        });
      },
    },
    { method: 'GET', path: '/v1/me', handle: (ctx) => ok(ctx, 200, ctx.principal) },
    {
      method: 'POST',
      path: '/v1/reviews',
      async handle(ctx) {
        const key = idempotencyKey(ctx.req);
        const draft = await draftBody(ctx.req);
        const r = deps().db.create(draft, key, ctx.principal.name);
        ok(ctx, r.replayed ? 200 : 201, r.review, {
          Location: `/v1/reviews/${r.review.id}`,
          ...(r.replayed ? { 'Idempotent-Replayed': 'true' } : {}),
        });
      },
    },
    {
      method: 'GET',
      path: '/v1/reviews',
      handle(ctx) {
        const status = queryValue(ctx.url, 'status');
        if (status !== undefined && !STATUSES.includes(status as ReviewStatus))
          throw new HttpProblem(400, `status must be one of ${STATUSES.join(', ')}`);
        const livestreamId = queryValue(ctx.url, 'livestreamId');
        const track = queryValue(ctx.url, 'track');
        const query: ReviewQuery = {
          ...(status !== undefined ? { status: status as ReviewStatus } : {}),
          ...(livestreamId !== undefined ? { livestreamId } : {}),
          ...(track !== undefined ? { track } : {}),
        };
        ok(ctx, 200, { reviews: deps().db.list(query) });
      },
    },
    {
      method: 'GET',
      path: '/v1/reviews/{id}',
      handle(ctx) {
        const review = deps().db.get(ctx.params.id!);
        if (!review) throw new ReviewNotFoundError(ctx.params.id!);
        ok(ctx, 200, review);
      },
    },
    {
      method: 'POST',
      path: '/v1/reviews/{id}/extend',
      async handle(ctx) {
        const key = idempotencyKey(ctx.req);
        const draft = await draftBody(ctx.req);
        const r = deps().db.extend(ctx.params.id!, draft, key, ctx.principal.name);
        ok(ctx, 200, r.review, r.replayed ? { 'Idempotent-Replayed': 'true' } : {});
      },
    },
    {
      method: 'POST',
      path: '/v1/reviews/{id}/decision',
      async handle(ctx) {
        const v = await jsonBody(ctx.req);
        const problems = decisionProblems(v);
        if (problems.length)
          throw new HttpProblem(400, `the decision is not valid: ${problems.join('; ')}`, problems);
        const { decision, note } = v as { decision: Decision; note?: string };
        ok(ctx, 200, deps().db.decide(ctx.params.id!, decision, note ?? '', ctx.principal.name));
      },
    },
    {
      method: 'GET',
      path: '/v1/reviews/{id}/clip',
      async handle(ctx) {
        const review = deps().db.get(ctx.params.id!);
        if (!review) throw new ReviewNotFoundError(ctx.params.id!);
        await serveClip(ctx, deps().clips, review.clipKey, review.variant);
      },
    },
    {
      method: 'GET',
      path: '/v1/audit',
      handle(ctx) {
        ok(ctx, 200, { entries: deps().db.audit(queryValue(ctx.url, 'reviewId')) });
      },
    },
  ];
}

async function serveClip(
  ctx: Context,
  clips: ClipCache,
  key: string,
  variant: string,
): Promise<void> {
  const { req, res } = ctx;
  let clip;
  try {
    clip = await clips.file(key);
  } catch (err) {
    if (err instanceof NotFoundError)
      throw new HttpProblem(404, `the clip ${key} of this review is not in the store`);
    throw err;
  }
  const type = variant === 'mp3' ? 'audio/mpeg' : 'video/mp4';
  const headers = {
    ...BASE_HEADERS,
    // Clips under a key never change: the browser may keep what it fetched while the page is open.
    'Cache-Control': 'private, max-age=3600',
    'Content-Type': type,
    'Accept-Ranges': 'bytes',
  };
  const range = parseRange(req.headers.range, clip.bytes);
  if (range === 'unsatisfiable')
    return problem(req, res, 416, `the clip has ${clip.bytes} bytes`, {
      headers: { 'Content-Range': `bytes */${clip.bytes}` },
    });
  const start = range?.start ?? 0;
  const end = range?.end ?? clip.bytes - 1;
  res.writeHead(range ? 206 : 200, {
    ...headers,
    'Content-Length': String(Math.max(0, end - start + 1)),
    ...(range ? { 'Content-Range': `bytes ${start}-${end}/${clip.bytes}` } : {}),
  });
  if (req.method === 'HEAD' || clip.bytes === 0) {
    res.end();
    return;
  }
  // A player that seeks drops its request mid-way: that closes the stream, it is not a failure.
  await pipeline(createReadStream(clip.path, { start, end }), res).catch((err: unknown) => {
    if (!res.destroyed) res.destroy(err as Error);
  });
}

function match(template: string, path: string): Record<string, string> | null {
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const seg = t[i]!;
    if (seg.startsWith('{')) {
      if (p[i] === '') return null;
      params[seg.slice(1, -1)] = p[i]!;
    } else if (seg !== p[i]) return null;
  }
  return params;
}

async function loadWeb(): Promise<Deps['web']> {
  const types: Record<string, string> = {
    'index.html': 'text/html; charset=utf-8',
    'app.js': 'text/javascript; charset=utf-8',
    'app.css': 'text/css; charset=utf-8',
  };
  const web: Deps['web'] = {};
  for (const [name, type] of Object.entries(types))
    web[name] = { type, body: await readFile(new URL(name, WEB_DIR), 'utf8') };
  return web;
}

/**
 * Starts the moderation service: the review API under /v1, its OpenAPI document and the
 * reviewer page. Reviews, idempotency keys and the audit log live in DATA/moderation.sqlite,
 * so a restart with the same folder keeps them; page sessions do not survive a restart.
 */
export async function startModerationService(
  o: ModerationServiceOptions,
): Promise<ModerationService> {
  const auth = new Authenticator(o.tokens, {
    ...(o.sessionTtlMs !== undefined ? { sessionTtlMs: o.sessionTtlMs } : {}),
  });
  const web = await loadWeb();
  const db = ReviewDb.open(o.dataDir);
  const clips = new ClipCache(
    o.store,
    join(o.dataDir, 'clip-cache'),
    o.clipCacheBytes ?? DEFAULT_CLIP_CACHE_BYTES,
  );
  const routes = routeTable({ db, auth, clips, web });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://service');
    } catch {
      return problem(req, res, 400, 'the request target is not a valid path');
    }
    const candidates = routes
      .map((route) => ({ route, params: match(route.path, url.pathname) }))
      .filter((c) => c.params !== null);
    if (candidates.length === 0)
      return problem(req, res, 404, `${url.pathname} is not part of the API; see /openapi.json`);
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const hit = candidates.find((c) => c.route.method === method);
    if (!hit) {
      const allow = [...new Set(candidates.map((c) => c.route.method))].join(', ');
      return problem(
        req,
        res,
        405,
        `${req.method} is not allowed on ${url.pathname}; use ${allow}`,
        {
          headers: { Allow: allow },
        },
      );
    }
    const params = hit.params!;
    for (const [name, value] of Object.entries(params))
      if (!isValidId(value))
        throw new HttpProblem(
          404,
          `${name} ${JSON.stringify(String(value).slice(0, 80))} is not a review id`,
        );
    let principal: Principal | null = null;
    if (!hit.route.open) {
      const token = bearerToken(req);
      principal = token !== undefined ? auth.byToken(token) : null;
      if (principal === null && token === undefined) {
        principal = auth.bySession(cookie(req, SESSION_COOKIE));
        // SameSite=Strict already keeps other sites' requests cookie-less; this refuses the rest.
        if (principal !== null && req.method !== 'GET' && req.method !== 'HEAD' && !sameOrigin(req))
          throw new HttpProblem(403, 'a page session can only be used from the reviewer page');
      }
      if (principal === null)
        throw new HttpProblem(
          401,
          token !== undefined
            ? 'the token is not valid'
            : 'credentials needed: Authorization: Bearer TOKEN, or log in on the reviewer page',
          undefined,
          { 'WWW-Authenticate': 'Bearer realm="tapedeck moderation"' },
        );
    }
    await hit.route.handle({ req, res, url, params, principal: principal! });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpProblem)
        return problem(req, res, err.status, err.message, {
          problems: err.problems,
          headers: err.headers,
        });
      if (err instanceof ReviewNotFoundError) return problem(req, res, 404, err.message);
      if (err instanceof ReviewClosedError) return problem(req, res, 409, err.message);
      if (err instanceof IdempotencyConflictError || err instanceof ModerationInputError)
        return problem(req, res, 422, err.message);
      if (err instanceof StoreError && err.retryable)
        return problem(req, res, 503, `the object store did not answer: ${err.message}`, {
          headers: { 'Retry-After': '2' },
        });
      if ((err as { code?: string }).code === 'SQLITE_BUSY')
        return problem(req, res, 503, 'the database is busy; try again', {
          headers: { 'Retry-After': '1' },
        });
      o.onError?.(err);
      if (res.headersSent) res.destroy();
      else problem(req, res, 500, 'the request failed; see the service log');
    });
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    db.close();
    throw err;
  }
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : 0;
  const host = o.host ?? '127.0.0.1';
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // A player keeps its connection open; it gets a moment to finish, then is cut.
        setTimeout(() => server.closeAllConnections(), 1_000).unref();
      }).finally(() => db.close());
      return closing;
    },
  };
}
