import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { ReviewDraft } from '../../../src/domain/review.ts';
import {
  ModerationError,
  ModerationInputError,
  ReviewClosedError,
  ReviewNotFoundError,
  type ModerationPort,
} from '../../../src/moderation/review-port.ts';

/**
 * What every ModerationPort promises, whoever implements it. Each case works on its own
 * livestream id, so cases do not see each other's reviews.
 */
export interface PortUnderTest {
  port: ModerationPort;
  /** The name decisions and changes are recorded under for this port's credentials. */
  actor: string;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);

function draft(livestreamId: string, fromS: number, over: Partial<ReviewDraft> = {}): ReviewDraft {
  const at = (s: number) => T0 + s * 1000;
  return {
    livestreamId,
    track: 'host-h1',
    variant: 'mp4',
    clipKey: `${livestreamId}/reviews/host-h1/${fromS}.mp4`,
    range: { startMs: at(fromS), endMs: at(fromS + 30) },
    flagged: [{ startMs: at(fromS + 15), endMs: at(fromS + 30) }],
    findings: [
      {
        impairment: 'silence',
        snippetKey: `${livestreamId}/host-h1/mp4/${fromS + 15}.mp4`,
        score: 30,
        startMs: at(fromS + 15),
        endMs: at(fromS + 30),
      },
    ],
    lowestScore: 30,
    ...over,
  };
}

const stream = () => `ls-${randomUUID().slice(0, 8)}`;
const T = { timeout: 30_000 };

export function moderationPortContract(name: string, start: () => Promise<PortUnderTest>): void {
  let it: PortUnderTest;
  before(async () => {
    it = await start();
  });
  after(async () => {
    await it?.close();
  });

  test(
    `${name}: a created review is open and readable; the same key gives the same review`,
    T,
    async () => {
      const ls = stream();
      const d = draft(ls, 0);
      const key = randomUUID();
      const r = await it.port.createReview(d, key);
      assert.equal(r.status, 'open');
      assert.equal(r.decision, null);
      for (const k of Object.keys(d) as (keyof ReviewDraft)[]) assert.deepEqual(r[k], d[k], k);
      assert.deepEqual(await it.port.getReview(r.id), r);
      const again = await it.port.createReview(d, key);
      assert.equal(again.id, r.id);
      assert.deepEqual(
        (await it.port.listReviews({ livestreamId: ls })).map((x) => x.id),
        [r.id],
      );
      await assert.rejects(
        it.port.createReview({ ...d, lowestScore: 1 }, key),
        ModerationInputError,
      );
    },
  );

  test(`${name}: an invalid draft is refused with its problems`, T, async () => {
    const bad = {
      ...draft(stream(), 0),
      variant: 'avi',
      lowestScore: 101,
    } as unknown as ReviewDraft;
    await assert.rejects(it.port.createReview(bad, randomUUID()), (err: Error) => {
      assert.ok(err instanceof ModerationInputError, String(err));
      assert.equal(err.retryable, false);
      assert.match(err.message, /variant must be mp4 or mp3/);
      assert.match(err.message, /lowestScore must be an integer from 0 to 100/);
      return true;
    });
  });

  test(`${name}: unknown reviews are ReviewNotFoundError`, T, async () => {
    const id = 'no-such-review';
    await assert.rejects(it.port.getReview(id), ReviewNotFoundError);
    await assert.rejects(it.port.decide(id, 'approve', ''), ReviewNotFoundError);
    await assert.rejects(
      it.port.extendReview(id, draft(stream(), 0), randomUUID()),
      ReviewNotFoundError,
    );
  });

  test(`${name}: extending widens an open review, once per key`, T, async () => {
    const ls = stream();
    const r = await it.port.createReview(draft(ls, 0), randomUUID());
    const key = randomUUID();
    const later = draft(ls, 15, { lowestScore: 10 });
    const e = await it.port.extendReview(r.id, later, key);
    assert.equal(e.id, r.id);
    assert.equal(e.status, 'open');
    assert.deepEqual(e.range, { startMs: r.range.startMs, endMs: later.range.endMs });
    assert.equal(e.clipKey, later.clipKey);
    assert.equal(e.lowestScore, 10);
    assert.equal(e.flagged.length, 2);
    assert.deepEqual(await it.port.extendReview(r.id, later, key), e);
    const entries = await it.port.audit(r.id);
    assert.deepEqual(
      entries.map((x) => x.action),
      ['created', 'extended'],
    );
  });

  test(
    `${name}: a decision closes the review; a second one and an extension are ReviewClosedError`,
    T,
    async () => {
      const ls = stream();
      const r = await it.port.createReview(draft(ls, 0), randomUUID());
      const d = await it.port.decide(r.id, 'violation', 'audio gone for 15 s');
      assert.equal(d.status, 'violation');
      assert.equal(d.decision?.decision, 'violation');
      assert.equal(d.decision?.note, 'audio gone for 15 s');
      assert.equal(d.decision?.reviewer, it.actor);
      assert.deepEqual(await it.port.getReview(r.id), d);
      await assert.rejects(it.port.decide(r.id, 'approve', ''), (err: Error) => {
        assert.ok(err instanceof ReviewClosedError, String(err));
        assert.equal((err as ModerationError).retryable, false);
        return true;
      });
      await assert.rejects(
        it.port.extendReview(r.id, draft(ls, 15), randomUUID()),
        ReviewClosedError,
      );
      const approved = await it.port.createReview(draft(ls, 100), randomUUID());
      assert.equal((await it.port.decide(approved.id, 'approve', '')).status, 'approved');
    },
  );

  test(
    `${name}: reviews list oldest first, filtered by status, livestream and track`,
    T,
    async () => {
      const ls = stream();
      const a = await it.port.createReview(draft(ls, 0), randomUUID());
      const b = await it.port.createReview(draft(ls, 0, { track: 'host-h2' }), randomUUID());
      const c = await it.port.createReview(draft(ls, 60), randomUUID());
      await it.port.decide(b.id, 'approve', 'fine');
      const ids = async (q: Parameters<ModerationPort['listReviews']>[0]) =>
        (await it.port.listReviews(q)).map((r) => r.id);
      assert.deepEqual(await ids({ livestreamId: ls }), [a.id, b.id, c.id]);
      assert.deepEqual(await ids({ livestreamId: ls, status: 'open' }), [a.id, c.id]);
      assert.deepEqual(await ids({ livestreamId: ls, status: 'approved' }), [b.id]);
      assert.deepEqual(await ids({ livestreamId: ls, track: 'host-h2' }), [b.id]);
      assert.ok((await it.port.listReviews()).length >= 3);
    },
  );

  test(`${name}: the audit log says who did what, in order`, T, async () => {
    const ls = stream();
    const r = await it.port.createReview(draft(ls, 0), randomUUID());
    await it.port.extendReview(r.id, draft(ls, 15), randomUUID());
    await it.port.decide(r.id, 'approve', 'ok');
    const mine = await it.port.audit(r.id);
    assert.deepEqual(
      mine.map((e) => [e.action, e.actor, e.reviewId]),
      [
        ['created', it.actor, r.id],
        ['extended', it.actor, r.id],
        ['decided', it.actor, r.id],
      ],
    );
    const all = await it.port.audit();
    const seqs = all.map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((x, y) => x - y),
    );
    assert.ok(mine.every((e) => all.some((x) => x.seq === e.seq)));
  });
}
