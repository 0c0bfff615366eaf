import assert from 'node:assert/strict';
import { access, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { DemoSummary } from '../../src/cli/demo.ts';
import { parseSnippetKey } from '../../src/domain/snippet-key.ts';
import type { SnippetScored } from '../../src/domain/snippet-scored.ts';
import { decodeErrors, probeMedia } from '../support/ffprobe.ts';
import { privateNetworkOnly } from '../support/netns.ts';
import { lastJsonLine, tapedeck, tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const skip = privateNetworkOnly();
if (skip) console.log(`skipping the demo: ${skip}`);

test(
  'the demo runs a 4-host livestream end to end: five recording workflows, MP4 and MP3 following the cameras; an impaired host (black 10 s, then silence 10 s) gets reviews, and only that host',
  { timeout: 300_000, skip },
  async () => {
    const data = await tempDir('demo');
    dirs.push(data);
    const r = await tapedeck(
      [
        'demo',
        '--data',
        data,
        '--duration',
        '45',
        '--impair',
        '3:black:8-18',
        '--impair',
        '3:silence:18-28',
        '--json',
      ],
      { timeoutMs: 280_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const summary = lastJsonLine<DemoSummary>(r.stdout);
    assert.ok(summary.root.startsWith(data));
    assert.equal(summary.workflowIds.recordings.length, 5);
    assert.deepEqual(Object.keys(summary.tracks).sort(), [
      'composite',
      'host-h1',
      'host-h2',
      'host-h3',
      'host-h4',
    ]);
    const variants = (track: string) =>
      new Set(summary.tracks[track]!.map((k) => k.split('.').at(-1)));
    assert.deepEqual(variants('composite'), new Set(['mp4']));
    // Every snippet is announced once on the embedded bus, and so are the hosts' camera changes.
    const events = (await readFile(summary.events, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { type: string; data: { key?: string; hostId?: string } });
    const cameraWentOff = (hostId: string) =>
      events.some((e) => e.type === 'tapedeck.host.camera-off' && e.data.hostId === hostId);
    // h1 and h3 keep their cameras on; only a publisher starved for 2 s on a loaded machine turns
    // up as camera off, and only then may it have an MP3: the tracks follow the events.
    for (const hostId of ['h1', 'h3']) {
      const v = variants(`host-${hostId}`);
      assert.ok(v.has('mp4'), `${hostId}: ${[...v].join(',')}`);
      if (v.has('mp3')) assert.ok(cameraWentOff(hostId), `${hostId}: an MP3 with the camera on`);
    }
    assert.deepEqual(variants('host-h2'), new Set(['mp4', 'mp3']));
    assert.deepEqual(variants('host-h4'), new Set(['mp4', 'mp3']));
    const keys = Object.values(summary.tracks).flat();
    for (const key of keys) assert.equal(await decodeErrors(join(summary.store, key)), '', key);
    const composite = (await probeMedia(join(summary.store, summary.tracks.composite![0]!))).video!;
    assert.deepEqual([composite.width, composite.height], [360, 640]);
    await access(summary.hls);
    const announced = events
      .filter((e) => e.type === 'tapedeck.snippet.ready')
      .map((e) => e.data.key);
    assert.deepEqual(announced.sort(), [...keys].sort());
    assert.ok(cameraWentOff('h2'));
    assert.ok(events.some((e) => e.type === 'tapedeck.host.camera-on' && e.data.hostId === 'h2'));

    // Moderation: every snippet scored, and reviews for host 3 only.
    const scored = events.filter((e) => e.type === 'tapedeck.snippet.scored');
    const scoredKeys = new Set(scored.map((e) => e.data.key));
    const unscored = keys.filter((k) => !scoredKeys.has(k));
    const sizes = await Promise.all(
      unscored.map(async (k) => `${k} (${(await stat(join(summary.store, k))).size} bytes)`),
    );
    assert.equal(
      scored.length,
      keys.length,
      `not scored: ${sizes.join(', ')}; the scorer said: ${r.stderr
        .split('\n')
        .filter((l) => l.includes('scorer:'))
        .map((l) => l.trim())
        .join(' | ')}`,
    );
    assert.ok(summary.reviews.length >= 1, 'no review for the impaired host');
    const t0 = Date.parse(summary.startedAt);
    // Compact, so that the reviews of the wrong host come first in a truncated log.
    const secOf = (ms: number) => ((ms - t0) / 1000).toFixed(1);
    const sec = (iso: string) => secOf(Date.parse(iso));
    assert.deepEqual(
      [...new Set(summary.reviews.map((rv) => rv.track))],
      ['host-h3'],
      [
        ...summary.reviews.map(
          (rv) =>
            `${rv.track} ${rv.impairments.join('+')} (${rv.lowestScore}) flagged ${rv.flagged.map((f) => `${sec(f.start)}-${sec(f.end)}`).join(', ')} s of the run`,
        ),
        // Where in the run the scorer found it, and what the ingest said of the host meanwhile.
        ...summary.reviews
          .filter((rv) => rv.track !== 'host-h3')
          .map((rv) => {
            const host = rv.track.replace('host-', '');
            const found = events.flatMap((e) => {
              const d = e.data as unknown as SnippetScored;
              if (e.type !== 'tapedeck.snippet.scored' || d.track !== rv.track) return [];
              const from = Date.parse(d.start);
              return [d.audio, d.video ?? { reasons: [] }].flatMap((q) =>
                q.reasons.map(
                  (r) =>
                    `${r.impairment} ${secOf(from + r.fromSec * 1000)}-${secOf(from + r.toSec * 1000)} s`,
                ),
              );
            });
            const said = events.flatMap((e) => {
              const d = e.data as { hostId?: string; change?: string; at?: string };
              return e.type.startsWith('tapedeck.host.') && d.hostId === host && d.at
                ? [`${d.change} at ${sec(d.at)} s`]
                : [];
            });
            // What the node logged of the host's recordings: their starts, and any warning.
            const logged = r.stderr
              .split('\n')
              .filter((l) => l.includes(`${rv.track}-`) || l.includes(' held up '))
              .map((l) => l.trim());
            return `${rv.track}: found ${found.join(', ')}; ingest: ${said.join(', ')}; node: ${logged.join(' | ')}`;
          }),
      ].join('; '),
    );
    const recordedFrom = Math.min(
      ...summary.tracks['host-h3']!.map((k) => parseSnippetKey(k).startMs),
    );
    for (const [kind, fromSec, toSec] of [
      ['black', 8, 18],
      ['silence', 18, 28],
    ] as const) {
      const from = t0 + fromSec * 1000;
      const to = t0 + toSec * 1000;
      const review = summary.reviews.find(
        (rv) =>
          rv.impairments.includes(kind) &&
          rv.flagged.some((f) => Date.parse(f.start) < to && from < Date.parse(f.end)),
      );
      assert.ok(review, `no review flags the ${kind} of ${fromSec}-${toSec} s`);
      // 30 s either side, clipped to the recording, in whole snippets: within one snippet.
      const start = Date.parse(review.start);
      const end = Date.parse(review.end);
      const wanted = Math.max(from - 30_000, recordedFrom);
      assert.ok(Math.abs(start - wanted) <= 15_000, `${kind}: starts at ${review.start}`);
      assert.ok(end >= to, `${kind}: ends before the impairment does`);
      const clip = join(summary.store, review.clipKey);
      assert.equal(await decodeErrors(clip, { keepFrameTimes: true }), '', review.clipKey);
      const seconds = (await probeMedia(clip)).durationSec;
      assert.ok(
        Math.abs(seconds - (end - start) / 1000) < 1,
        `${review.clipKey} lasts ${seconds} s for a range of ${(end - start) / 1000} s`,
      );
    }
  },
);
