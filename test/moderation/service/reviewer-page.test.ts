import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { AuditEntry, Review } from '../../../src/domain/review.ts';
import { CHROMIUM_ARGS } from '../../../src/ingest/publisher/chromium-publisher.ts';
import { probeMedia } from '../../support/ffprobe.ts';
import { ROOT, tempDir } from '../../support/tapedeck.ts';
import { bearer, draft, startFixture, storeClip, TOKENS, type Fixture } from './fixture.ts';

const CLIP_KEY = 'ls1/reviews/host-h1/page.mp4';
const SCREENSHOTS = join(ROOT, '.data', 'screenshots');

let dir: string;
let fx: Fixture;
let clipFile: string;

before(async () => {
  dir = await tempDir('reviewer-page');
  fx = await startFixture(dir);
  clipFile = await storeClip(dir, fx.store, CLIP_KEY);
});
after(async () => {
  await fx?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Debian's binary itself when present: the /usr/bin wrapper adds flags of its own. */
async function chromiumPath(): Promise<string> {
  for (const p of ['/usr/lib/chromium/chromium', '/usr/bin/chromium'])
    if (
      await access(p, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return p;
  throw new Error('Chromium is missing; `bash scripts/setup.sh` installs it');
}

async function api<T>(method: string, path: string, body?: unknown, key?: string): Promise<T> {
  const res = await fetch(`${fx.service.url}${path}`, {
    method,
    headers: {
      ...bearer(key ? TOKENS.services.escalation : TOKENS.reviewers.alice),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(key ? { 'Idempotency-Key': key } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const value = (await res.json()) as T;
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(value)}`);
  return value;
}

test(
  'a reviewer logs in, plays the flagged clip and decides a violation with a note by keyboard',
  { timeout: 180_000 },
  async () => {
    const clipSec = (await probeMedia(clipFile)).durationSec;
    const review = await api<Review>(
      'POST',
      '/v1/reviews',
      draft(0, { clipKey: CLIP_KEY }),
      'page-review-1',
    );
    // Text from a review is shown as text, never as markup.
    const hostile = await api<Review>(
      'POST',
      '/v1/reviews',
      draft(60, { track: '<img src=x data-bad=1>', clipKey: CLIP_KEY }),
      'page-review-2',
    );

    const browser: Browser = await chromium.launch({
      executablePath: await chromiumPath(),
      headless: true,
      args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'],
      // A loaded 2-core machine has taken over 30 s to bring Chromium up.
      timeout: 90_000,
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const requested: string[] = [];
      // The page may only talk to the service; anything else is refused and fails the test.
      await context.route('**/*', (route) => {
        const url = route.request().url();
        requested.push(url);
        return url.startsWith(`${fx.service.url}/`) ? route.continue() : route.abort();
      });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      page.on('console', (m) => {
        if (m.type() === 'error' && !/401/.test(m.text())) pageErrors.push(m.text());
      });

      await page.goto(`${fx.service.url}/`);
      await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
      await page.fill('#login-name', 'alice');
      await page.fill('#login-token', 'not-the-token-0123456789');
      await page.click('#login-submit');
      await page.locator('#login-error').filter({ hasText: 'do not belong' }).waitFor();
      await page.fill('#login-token', TOKENS.reviewers.alice);
      await page.click('#login-submit');
      await page.locator('#whoami').filter({ hasText: 'alice' }).waitFor({ timeout: 10_000 });
      assert.ok(await page.locator('#login-form').isHidden(), 'the login form is gone');

      const item = page.locator(`[data-testid=queue-item][data-review-id="${review.id}"]`);
      await item.waitFor({ timeout: 10_000 });
      const itemText = await item.innerText();
      assert.match(itemText, /ls1 \/ host-h1/);
      assert.match(itemText, /lowest score 12/);
      assert.match(itemText, /black/);
      const hostileItem = page.locator(`[data-review-id="${hostile.id}"]`);
      assert.match(await hostileItem.innerText(), /<img src=x data-bad=1>/);
      assert.equal(await page.locator('img[data-bad]').count(), 0);
      assert.match(await page.locator('#shortcuts').innerText(), /approve[\s\S]*violation/);

      // j and k walk the queue.
      const shown = () => page.locator('#detail').getAttribute('data-review-id');
      await page.keyboard.press('j');
      assert.equal(await shown(), hostile.id);
      await page.keyboard.press('k');
      assert.equal(await shown(), review.id);

      await item.click();
      assert.equal(await shown(), review.id);
      const marker = page.locator('[data-testid=flag-marker]');
      assert.equal(await marker.count(), 1);
      assert.ok(Math.abs(Number(await marker.getAttribute('data-start')) - 5 / 15) < 1e-9);
      assert.ok(Math.abs(Number(await marker.getAttribute('data-end')) - 10 / 15) < 1e-9);
      const bar = await page.locator('#flag-bar').boundingBox();
      const mark = await marker.boundingBox();
      assert.ok(bar && mark);
      assert.ok(Math.abs(mark.x - bar.x - bar.width / 3) < 3, 'the marker starts a third in');
      assert.match(await page.locator('[data-testid=finding]').first().innerText(), /black/);

      await page.keyboard.press(' ');
      await page.waitForFunction(
        () => {
          const v = document.getElementById('player') as HTMLVideoElement;
          return v.currentTime > 1 && v.readyState >= 2;
        },
        undefined,
        { timeout: 20_000 },
      );
      const media = await page.evaluate(() => {
        const v = document.getElementById('player') as HTMLVideoElement;
        return { duration: v.duration, width: v.videoWidth, error: v.error?.message ?? null };
      });
      assert.equal(media.error, null);
      assert.ok(
        Math.abs(media.duration - clipSec) < 0.5,
        `duration ${media.duration} s, the clip has ${clipSec} s`,
      );
      assert.equal(media.width, 320);

      await page.fill('#note', 'black screen from 0:05 to 0:10');
      await page.keyboard.press('Escape');
      await page.keyboard.press('v');
      const state = page.locator('#decision-state[data-status=violation]');
      await state.waitFor({ timeout: 10_000 });
      assert.match(await state.innerText(), /Violation by alice/);
      assert.ok(await page.locator('#approve').isDisabled());

      await mkdir(SCREENSHOTS, { recursive: true });
      const shot = join(SCREENSHOTS, `reviewer-page-${Date.now()}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`reviewer page screenshot: ${shot}`);

      const decided = await api<Review>('GET', `/v1/reviews/${review.id}`);
      assert.equal(decided.status, 'violation');
      assert.equal(decided.decision?.note, 'black screen from 0:05 to 0:10');
      assert.equal(decided.decision?.reviewer, 'alice');
      const { entries } = await api<{ entries: AuditEntry[] }>(
        'GET',
        `/v1/audit?reviewId=${review.id}`,
      );
      assert.deepEqual(
        entries.map((e) => [e.action, e.actor]),
        [
          ['created', 'escalation'],
          ['decided', 'alice'],
        ],
      );
      assert.equal((await api<Review>('GET', `/v1/reviews/${hostile.id}`)).status, 'open');

      assert.deepEqual(pageErrors, []);
      assert.deepEqual(
        requested.filter((u) => !u.startsWith(`${fx.service.url}/`)),
        [],
      );
    } finally {
      await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    }
  },
);
