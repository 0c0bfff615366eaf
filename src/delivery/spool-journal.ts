import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { VideoWindow } from '../domain/quality-rules.ts';
import type { AudioParams, VideoParams } from '../domain/snippet-event.ts';
import type { Variant } from '../domain/snippet-key.ts';

/** What a recording is, written before its first snippet so any later process can deliver its leftovers. */
export interface RecordingSession {
  livestreamId: string;
  recordingId: string;
  track: string;
  variant: Variant;
  media: { video: VideoParams | null; audio: AudioParams };
}

export type JournalEntry =
  | ({ t: 'session'; at: string } & RecordingSession)
  | { t: 'worker'; pid: number }
  | { t: 'opened'; seq: number; file: string; startUtcNs: string }
  | {
      t: 'closed';
      seq: number;
      file: string;
      startUtcNs: string;
      endUtcNs: string;
      pictures?: VideoWindow[];
    }
  | { t: 'delivered'; seq: number; key: string }
  | { t: 'quarantined'; seq: number; file: string; reason: string }
  /**
   * A snippet opened by a run that died before any of it was written: nothing of it exists, and
   * the next run of the recording takes its number, so the numbering has no hole for nothing.
   */
  | { t: 'vacated'; seq: number }
  | { t: 'ended' }
  | { t: 'held' }
  | { t: 'released' }
  | { t: 'discarded' };

/**
 * Whether a recording's snippets may be delivered: 'held' while it is not yet known to be the
 * only recording of its track (it took over from one whose worker may still be running),
 * 'discarded' once that one turned out to be alive (these snippets repeat its own).
 */
export type Hold = 'none' | 'held' | 'released' | 'discarded';

export const JOURNAL_FILE = 'journal.jsonl';

export interface ClosedSnippet {
  file: string;
  startUtcNs: bigint;
  endUtcNs: bigint;
  /** Its pictures measured as recorded, when the worker took them. */
  pictures?: VideoWindow[];
}

export interface JournalState {
  session: RecordingSession | null;
  workerPids: number[];
  opened: Map<number, { file: string; startUtcNs: bigint }>;
  closed: Map<number, ClosedSnippet>;
  delivered: Map<number, string>;
  quarantined: Set<number>;
  ended: boolean;
  hold: Hold;
}

/**
 * The highest snippet number the recording has used: opened, closed, delivered or set aside. A
 * number set aside is never handed out again, or the new snippet under it would be taken for the
 * one set aside and never delivered.
 */
export function highestSeq(state: JournalState): number {
  return Math.max(
    -1,
    ...state.opened.keys(),
    ...state.closed.keys(),
    ...state.delivered.keys(),
    ...state.quarantined,
  );
}

/** Folds journal lines into state; a line torn by a crash (the last one) is ignored. */
export function foldJournal(text: string): JournalState {
  const state: JournalState = {
    session: null,
    workerPids: [],
    opened: new Map(),
    closed: new Map(),
    delivered: new Map(),
    quarantined: new Set(),
    ended: false,
    hold: 'none',
  };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e: JournalEntry;
    try {
      e = JSON.parse(line) as JournalEntry;
    } catch {
      continue;
    }
    switch (e.t) {
      case 'session': {
        const { t: _t, at: _at, ...session } = e;
        state.session = session;
        state.ended = false;
        state.hold = 'none';
        break;
      }
      case 'worker':
        state.workerPids.push(e.pid);
        break;
      case 'opened':
        state.opened.set(e.seq, { file: e.file, startUtcNs: BigInt(e.startUtcNs) });
        break;
      case 'closed':
        state.closed.set(e.seq, {
          file: e.file,
          startUtcNs: BigInt(e.startUtcNs),
          endUtcNs: BigInt(e.endUtcNs),
          ...(e.pictures ? { pictures: e.pictures } : {}),
        });
        break;
      case 'delivered':
        state.delivered.set(e.seq, e.key);
        break;
      case 'quarantined':
        state.quarantined.add(e.seq);
        break;
      case 'vacated':
        state.opened.delete(e.seq);
        break;
      case 'ended':
        state.ended = true;
        break;
      case 'held':
      case 'released':
      case 'discarded':
        state.hold = e.t;
        break;
    }
  }
  return state;
}

export async function readJournal(dir: string): Promise<JournalState> {
  let text = '';
  try {
    text = await readFile(join(dir, JOURNAL_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return foldJournal(text);
}

/**
 * Append-only, one JSON object per line, each synced before the promise resolves: after a crash
 * the journal says which snippets were opened, closed and delivered, and when each started.
 */
export class SpoolJournal {
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly fh: FileHandle,
  ) {}

  static async open(dir: string): Promise<SpoolJournal> {
    const fh = await open(join(dir, JOURNAL_FILE), 'a');
    // A torn last line must not glue itself to the next entry.
    const size = (await fh.stat()).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const probe = await open(join(dir, JOURNAL_FILE), 'r');
      await probe.read(last, 0, 1, size - 1);
      await probe.close();
      if (last[0] !== 0x0a) await fh.write('\n');
    }
    return new SpoolJournal(dir, fh);
  }

  append(entry: JournalEntry): Promise<void> {
    const next = this.chain.then(async () => {
      await this.fh.write(JSON.stringify(entry) + '\n');
      await this.fh.datasync();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh.close();
  }
}
