import { join } from 'node:path';
import type { ReviewDraft } from '../../../src/domain/review.ts';
import { sha256File } from '../../../src/delivery/file-hash.ts';
import { openStore } from '../../../src/delivery/store/open.ts';
import type { ObjectStore } from '../../../src/delivery/store/port.ts';
import {
  startModerationService,
  type ModerationService,
} from '../../../src/moderation/service/moderation-service.ts';
import { impairedSnippet } from '../../support/impaired-media.ts';

export const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);

export const TOKENS = {
  reviewers: { alice: 'alice-token-0123456789abcdef', bob: 'bob-token-0123456789abcdef' },
  services: { escalation: 'escalation-token-0123456789abcdef' },
};

/** A draft of a 15-s clip starting `fromS` seconds after T0, flagged from 5 s to 10 s. */
export function draft(fromS = 0, over: Partial<ReviewDraft> = {}): ReviewDraft {
  const at = (s: number) => T0 + s * 1000;
  return {
    livestreamId: 'ls1',
    track: 'host-h1',
    variant: 'mp4',
    clipKey: `ls1/reviews/host-h1/${fromS}.mp4`,
    range: { startMs: at(fromS), endMs: at(fromS + 15) },
    flagged: [{ startMs: at(fromS + 5), endMs: at(fromS + 10) }],
    findings: [
      {
        impairment: 'black',
        snippetKey: `ls1/host-h1/mp4/${fromS}.mp4`,
        score: 12,
        startMs: at(fromS + 5),
        endMs: at(fromS + 10),
      },
    ],
    lowestScore: 12,
    ...over,
  };
}

export interface Fixture {
  dir: string;
  store: ObjectStore;
  service: ModerationService;
  /** Starts the service again on the same data folder (a restart). */
  restart(): Promise<ModerationService>;
  close(): Promise<void>;
}

export async function startFixture(dir: string): Promise<Fixture> {
  const store = openStore(`file://${join(dir, 'store')}`);
  const start = () =>
    startModerationService({
      dataDir: join(dir, 'service'),
      store,
      tokens: TOKENS,
      onError: (err) => console.error('moderation service:', err),
    });
  let closing: Promise<void> | undefined;
  const fixture: Fixture = {
    dir,
    store,
    service: await start(),
    async restart() {
      await fixture.service.close();
      fixture.service = await start();
      return fixture.service;
    },
    close() {
      closing ??= fixture.service.close().then(() => store.close());
      return closing;
    },
  };
  return fixture;
}

/** A real 15-s MP4 (H.264 + AAC) made with GStreamer, stored under `key`; its local path. */
export async function storeClip(dir: string, store: ObjectStore, key: string): Promise<string> {
  const file = await impairedSnippet(dir, 'none', 'none', 'mp4');
  const { sha256 } = await sha256File(file);
  await store.putFile(key, file, { sha256, contentType: 'video/mp4' });
  return file;
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}
