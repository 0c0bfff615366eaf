import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  decideReview,
  extendReview,
  openReview,
  type AuditAction,
  type AuditEntry,
  type Decision,
  type Review,
  type ReviewDraft,
} from '../../domain/review.ts';
import {
  ModerationInputError,
  ReviewClosedError,
  ReviewNotFoundError,
  type ReviewQuery,
} from '../review-port.ts';

/**
 * Reviews, idempotency keys and the audit log in one SQLite file. Every change and its audit
 * entry (and its idempotency key) commit in one transaction, so after a crash either all of them
 * are there or none is.
 */

export const DEFAULT_DB_FILE = 'moderation.sqlite';

/** Bump with a migration below when the tables change. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS reviews (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  livestream_id TEXT NOT NULL,
  track TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  body TEXT NOT NULL CHECK (json_valid(body))
);
CREATE INDEX IF NOT EXISTS reviews_by_status ON reviews (status, seq);
CREATE INDEX IF NOT EXISTS reviews_by_track ON reviews (livestream_id, track, seq);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  review_id TEXT NOT NULL REFERENCES reviews (id),
  actor TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  review_id TEXT NOT NULL REFERENCES reviews (id),
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('created', 'extended', 'decided')),
  detail TEXT NOT NULL CHECK (json_valid(detail))
);
CREATE INDEX IF NOT EXISTS audit_by_review ON audit_log (review_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`;

/** The same key sent again with a different request: refused, never applied. */
export class IdempotencyConflictError extends ModerationInputError {
  override name = 'IdempotencyConflictError';
}

/** What a write did: `replayed` when the idempotency key had been used for this request before. */
export interface WriteResult {
  review: Review;
  replayed: boolean;
}

interface ReviewRow {
  body: string;
}
interface AuditRow {
  seq: number;
  review_id: string;
  at: string;
  actor: string;
  action: AuditAction;
  detail: string;
}
interface KeyRow {
  request_hash: string;
  review_id: string;
}

/**
 * Only the fields a draft has, in a fixed order: what is stored never carries extra fields a
 * client sent, and the request hash does not depend on the sender's key order.
 */
export function cleanDraft(d: ReviewDraft): ReviewDraft {
  return {
    livestreamId: d.livestreamId,
    track: d.track,
    variant: d.variant,
    clipKey: d.clipKey,
    range: { startMs: d.range.startMs, endMs: d.range.endMs },
    flagged: d.flagged.map((r) => ({ startMs: r.startMs, endMs: r.endMs })),
    findings: d.findings.map((f) => ({
      impairment: f.impairment,
      snippetKey: f.snippetKey,
      score: f.score,
      startMs: f.startMs,
      endMs: f.endMs,
    })),
    lowestScore: d.lowestScore,
  };
}

function requestHash(operation: string, draft: ReviewDraft): string {
  return createHash('sha256')
    .update(JSON.stringify({ operation, draft: cleanDraft(draft) }))
    .digest('hex');
}

export class ReviewDb {
  private readonly db: Database.Database;

  private constructor(
    readonly file: string,
    private readonly now: () => Date,
  ) {
    this.db = new Database(file, { timeout: 5_000 });
    try {
      this.db.pragma('journal_mode = WAL');
      // Decisions and their audit entries must survive a power cut, not only a crash.
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new Error(
          `${file} was written by a newer tapedeck (schema ${version}; this one knows ${SCHEMA_VERSION})`,
        );
      this.db.exec(SCHEMA);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  /** Opens (creating if needed) the database in `dataDir`. */
  static open(dataDir: string, opts: { file?: string; now?: () => Date } = {}): ReviewDb {
    mkdirSync(dataDir, { recursive: true });
    return new ReviewDb(
      join(dataDir, opts.file ?? DEFAULT_DB_FILE),
      opts.now ?? (() => new Date()),
    );
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get(id: string): Review | null {
    const row = this.db.prepare('SELECT body FROM reviews WHERE id = ?').get(id) as
      ReviewRow | undefined;
    return row ? (JSON.parse(row.body) as Review) : null;
  }

  private mustGet(id: string): Review {
    const review = this.get(id);
    if (!review) throw new ReviewNotFoundError(id);
    return review;
  }

  /** Oldest first. */
  list(query: ReviewQuery = {}): Review[] {
    const where: string[] = [];
    const args: string[] = [];
    const filter = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      args.push(value);
    };
    filter('status', query.status);
    filter('livestream_id', query.livestreamId);
    filter('track', query.track);
    const sql =
      'SELECT body FROM reviews' +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY seq';
    return (this.db.prepare(sql).all(...args) as ReviewRow[]).map(
      (r) => JSON.parse(r.body) as Review,
    );
  }

  /** In the order things happened. */
  audit(reviewId?: string): AuditEntry[] {
    const rows = (
      reviewId === undefined
        ? this.db.prepare('SELECT * FROM audit_log ORDER BY seq').all()
        : this.db.prepare('SELECT * FROM audit_log WHERE review_id = ? ORDER BY seq').all(reviewId)
    ) as AuditRow[];
    return rows.map((r) => ({
      seq: r.seq,
      reviewId: r.review_id,
      at: r.at,
      actor: r.actor,
      action: r.action,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
    }));
  }

  /** A new open review; the same key and draft give back the review made the first time. */
  create(draft: ReviewDraft, idempotencyKey: string, actor: string): WriteResult {
    const hash = requestHash('create', draft);
    return this.db
      .transaction((): WriteResult => {
        const replay = this.replay(idempotencyKey, hash);
        if (replay) return replay;
        const review = openReview(randomUUID(), cleanDraft(draft), this.now());
        this.db
          .prepare(
            `INSERT INTO reviews (id, livestream_id, track, status, created_at, updated_at, body)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            review.id,
            review.livestreamId,
            review.track,
            review.status,
            review.createdAt,
            review.updatedAt,
            JSON.stringify(review),
          );
        this.remember(idempotencyKey, hash, review.id, actor, review.createdAt);
        this.append(review.id, review.createdAt, actor, 'created', {
          idempotencyKey,
          clipKey: review.clipKey,
          range: review.range,
          flagged: review.flagged.length,
          lowestScore: review.lowestScore,
        });
        return { review, replayed: false };
      })
      .immediate();
  }

  /** Widens an open review; ReviewClosedError once it is decided. */
  extend(id: string, draft: ReviewDraft, idempotencyKey: string, actor: string): WriteResult {
    const hash = requestHash(`extend ${id}`, draft);
    return this.db
      .transaction((): WriteResult => {
        const replay = this.replay(idempotencyKey, hash);
        if (replay) return replay;
        const before = this.mustGet(id);
        if (before.status !== 'open')
          throw new ReviewClosedError(
            `review ${id} was already decided (${before.status}); open a new review instead`,
            false,
          );
        if (
          before.livestreamId !== draft.livestreamId ||
          before.track !== draft.track ||
          before.variant !== draft.variant
        )
          throw new ModerationInputError(
            `review ${id} is for ${before.livestreamId}/${before.track} (${before.variant}); ` +
              `the draft is for ${draft.livestreamId}/${draft.track} (${draft.variant})`,
          );
        const review = extendReview(before, cleanDraft(draft), this.now());
        this.save(review);
        this.remember(idempotencyKey, hash, id, actor, review.updatedAt);
        this.append(id, review.updatedAt, actor, 'extended', {
          idempotencyKey,
          clipKey: review.clipKey,
          previousClipKey: before.clipKey,
          range: review.range,
          flagged: review.flagged.length,
          lowestScore: review.lowestScore,
        });
        return { review, replayed: false };
      })
      .immediate();
  }

  /** Decides an open review; ReviewClosedError when it was decided before (that decision stands). */
  decide(id: string, decision: Decision, note: string, reviewer: string): Review {
    return this.db
      .transaction((): Review => {
        const before = this.mustGet(id);
        if (before.status !== 'open')
          throw new ReviewClosedError(
            `review ${id} was already decided (${before.status} by ${before.decision?.reviewer ?? 'unknown'} at ${before.decision?.at ?? '?'})`,
            false,
          );
        const review = decideReview(before, decision, note, reviewer, this.now());
        this.save(review);
        this.append(id, review.updatedAt, reviewer, 'decided', { decision, note });
        return review;
      })
      .immediate();
  }

  private replay(key: string, hash: string): WriteResult | null {
    const row = this.db
      .prepare('SELECT request_hash, review_id FROM idempotency_keys WHERE key = ?')
      .get(key) as KeyRow | undefined;
    if (!row) return null;
    if (row.request_hash !== hash)
      throw new IdempotencyConflictError(
        `Idempotency-Key ${JSON.stringify(key)} was used before for a different request; ` +
          'use a new key for a new request',
      );
    return { review: this.mustGet(row.review_id), replayed: true };
  }

  private remember(key: string, hash: string, reviewId: string, actor: string, at: string): void {
    this.db
      .prepare(
        'INSERT INTO idempotency_keys (key, request_hash, review_id, actor, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(key, hash, reviewId, actor, at);
  }

  private save(review: Review): void {
    this.db
      .prepare('UPDATE reviews SET status = ?, updated_at = ?, body = ? WHERE id = ?')
      .run(review.status, review.updatedAt, JSON.stringify(review), review.id);
  }

  private append(
    reviewId: string,
    at: string,
    actor: string,
    action: AuditAction,
    detail: Record<string, unknown>,
  ): void {
    this.db
      .prepare(
        'INSERT INTO audit_log (review_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)',
      )
      .run(reviewId, at, actor, action, JSON.stringify(detail));
  }
}
