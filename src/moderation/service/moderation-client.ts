import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEntry, Decision, Review, ReviewDraft } from '../../domain/review.ts';
import {
  ModerationError,
  ModerationInputError,
  ReviewClosedError,
  ReviewNotFoundError,
  type ModerationPort,
  type ReviewQuery,
} from '../review-port.ts';

export interface ModerationClientOptions {
  /** The service's base URL, e.g. http://127.0.0.1:8082. */
  url: string;
  /** A service or reviewer token; its name is the actor in the audit log. */
  token: string;
  /** Further tries after a failure worth retrying (unreachable, 5xx, timeout). Default 3. */
  retries?: number;
  /** Per try. Default 10 s. */
  timeoutMs?: number;
  /** The first wait between tries; it doubles each time (with jitter). Default 200 ms. */
  backoffMs?: number;
}

interface Answer {
  status: number;
  body: unknown;
}

/** Failures a later try may not have: the service or the network, never the request. */
class Transient extends Error {}

function problemDetail(body: unknown, fallback: string): string {
  const p = body as { detail?: unknown } | null;
  return typeof p?.detail === 'string' ? p.detail : fallback;
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'no answer in time';
  if (e.cause?.code === 'ECONNREFUSED')
    return 'connection refused (ECONNREFUSED): nothing listens there; is the service running?';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

function isReview(v: unknown): v is Review {
  const r = v as Partial<Review> | null;
  return typeof r?.id === 'string' && typeof r.status === 'string' && typeof r.range === 'object';
}

/**
 * The moderation service over HTTP, as a ModerationPort. Writes carry an Idempotency-Key and a
 * retry sends the same one, so a request whose answer was lost is never applied twice.
 */
export class ModerationClient implements ModerationPort {
  private readonly base: string;
  private readonly token: string;
  private readonly retries: number;
  private readonly timeoutMs: number;
  private readonly backoffMs: number;

  constructor(o: ModerationClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(o.url);
    } catch {
      throw new ModerationInputError(
        `moderation service URL ${JSON.stringify(o.url)} is not a URL; write e.g. http://127.0.0.1:8082`,
      );
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new ModerationInputError(`moderation service URL ${o.url} must be http:// or https://`);
    if (typeof o.token !== 'string' || o.token === '')
      throw new ModerationInputError('a token is needed for the moderation service');
    this.base = parsed.href.replace(/\/+$/, '');
    this.token = o.token;
    this.retries = Math.max(0, o.retries ?? 3);
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.backoffMs = o.backoffMs ?? 200;
  }

  async createReview(draft: ReviewDraft, idempotencyKey: string): Promise<Review> {
    return this.review(
      await this.call('POST', '/v1/reviews', { body: draft, idempotencyKey }),
      undefined,
    );
  }

  async extendReview(id: string, draft: ReviewDraft, idempotencyKey: string): Promise<Review> {
    return this.review(
      await this.call('POST', `/v1/reviews/${encodeURIComponent(id)}/extend`, {
        body: draft,
        idempotencyKey,
        id,
      }),
      id,
    );
  }

  async listReviews(query: ReviewQuery = {}): Promise<Review[]> {
    const q = new URLSearchParams();
    if (query.status !== undefined) q.set('status', query.status);
    if (query.livestreamId !== undefined) q.set('livestreamId', query.livestreamId);
    if (query.track !== undefined) q.set('track', query.track);
    const { body } = await this.call('GET', `/v1/reviews${q.size ? `?${q}` : ''}`, {});
    const reviews = (body as { reviews?: unknown } | null)?.reviews;
    if (!Array.isArray(reviews) || !reviews.every(isReview))
      throw new ModerationError(`${this.base} answered a review list without reviews`, false);
    return reviews;
  }

  async getReview(id: string): Promise<Review> {
    return this.review(await this.call('GET', `/v1/reviews/${encodeURIComponent(id)}`, { id }), id);
  }

  async decide(id: string, decision: Decision, note: string): Promise<Review> {
    return this.review(
      await this.call('POST', `/v1/reviews/${encodeURIComponent(id)}/decision`, {
        body: { decision, note },
        id,
      }),
      id,
    );
  }

  async audit(reviewId?: string): Promise<AuditEntry[]> {
    const q = reviewId === undefined ? '' : `?${new URLSearchParams({ reviewId })}`;
    const { body } = await this.call('GET', `/v1/audit${q}`, {});
    const entries = (body as { entries?: unknown } | null)?.entries;
    if (!Array.isArray(entries))
      throw new ModerationError(`${this.base} answered an audit log without entries`, false);
    return entries as AuditEntry[];
  }

  private review(answer: Answer, id: string | undefined): Review {
    if (!isReview(answer.body))
      throw new ModerationError(
        `${this.base} answered ${answer.status} without a review${id ? ` for ${id}` : ''}`,
        false,
      );
    return answer.body;
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    o: { body?: unknown; idempotencyKey?: string; id?: string },
  ): Promise<Answer> {
    const what = `${method} ${this.base}${path}`;
    let last = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) {
        const wait = this.backoffMs * 2 ** (attempt - 1);
        await sleep(wait / 2 + Math.random() * (wait / 2));
      }
      try {
        return this.judge(await this.once(method, path, o), what, o.id);
      } catch (err) {
        if (!(err instanceof Transient)) throw err;
        last = err.message;
      }
    }
    throw new ModerationError(
      `the moderation service did not answer ${what} after ${this.retries + 1} tries: ${last}`,
      true,
    );
  }

  private async once(
    method: string,
    path: string,
    o: { body?: unknown; idempotencyKey?: string },
  ): Promise<Answer> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          Accept: 'application/json',
          ...(o.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...(o.idempotencyKey !== undefined ? { 'Idempotency-Key': o.idempotencyKey } : {}),
        },
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new Transient(describeFetchError(err));
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new Transient(`the answer was cut off (${describeFetchError(err)})`);
    }
    let body: unknown = null;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      if (res.ok) throw new Transient(`${res.status} with a body that is not JSON`);
    }
    return { status: res.status, body };
  }

  private judge(a: Answer, what: string, id: string | undefined): Answer {
    if (a.status >= 200 && a.status < 300) return a;
    const detail = problemDetail(a.body, `HTTP ${a.status}`);
    if (a.status >= 500 || a.status === 429 || a.status === 408)
      throw new Transient(`${a.status}: ${detail}`);
    if (a.status === 404 && id !== undefined) throw new ReviewNotFoundError(id);
    if (a.status === 409) throw new ReviewClosedError(detail, false);
    if (a.status === 400 || a.status === 422 || a.status === 413)
      throw new ModerationInputError(detail);
    if (a.status === 401 || a.status === 403)
      throw new ModerationError(
        `the moderation service refused the token (${a.status}: ${detail})`,
        false,
      );
    throw new ModerationError(`${what} answered ${a.status}: ${detail}`, false);
  }
}
