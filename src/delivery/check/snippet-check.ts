import { open, truncate } from 'node:fs/promises';
import type { Variant } from '../../domain/snippet-key.ts';
import { inspectMp3 } from './mp3.ts';
import { inspectMp4 } from './mp4.ts';

export type SnippetCheck =
  | { status: 'complete'; durationMs: number; bytes: number }
  | {
      status: 'repairable';
      durationMs: number;
      bytes: number;
      repairedSize: number;
      problem: string;
    }
  | { status: 'invalid'; problem: string; bytes: number };

/** Is the file a whole snippet, one a crash cut short that can be trimmed, or neither? */
export async function checkSnippet(path: string, variant: Variant): Promise<SnippetCheck> {
  const r = variant === 'mp4' ? await inspectMp4(path) : await inspectMp3(path);
  if (r.complete) return { status: 'complete', durationMs: r.durationMs, bytes: r.fileSize };
  if (r.repairable && r.repairedSize !== undefined && r.durationMs > 0)
    return {
      status: 'repairable',
      durationMs: r.durationMs,
      bytes: r.fileSize,
      repairedSize: r.repairedSize,
      problem: r.problem ?? 'incomplete',
    };
  return { status: 'invalid', problem: r.problem ?? 'not a snippet', bytes: r.fileSize };
}

/**
 * Trims a cut file to what its index describes. For MP4 the mdat box is made to end there too,
 * so the result is an ordinary file that any player and any later check accept.
 */
export async function repairSnippet(
  path: string,
  variant: Variant,
  repairedSize: number,
): Promise<void> {
  if (variant === 'mp4') {
    const fh = await open(path, 'r+');
    try {
      const head = Buffer.alloc(16);
      let at = 0;
      const size = (await fh.stat()).size;
      while (at + 8 <= size) {
        await fh.read(head, 0, 16, at);
        let boxSize = head.readUInt32BE(0);
        const type = head.toString('latin1', 4, 8);
        const large = boxSize === 1;
        if (large) boxSize = Number(head.readBigUInt64BE(8));
        if (type === 'mdat') {
          const length = repairedSize - at;
          if (large) {
            const b = Buffer.alloc(8);
            b.writeBigUInt64BE(BigInt(length));
            await fh.write(b, 0, 8, at + 8);
          } else if (length <= 0xffffffff) {
            const b = Buffer.alloc(4);
            b.writeUInt32BE(length);
            await fh.write(b, 0, 4, at);
          }
          break;
        }
        if (boxSize < 8) break;
        at += boxSize;
      }
      await fh.truncate(repairedSize);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return;
  }
  await truncate(path, repairedSize);
}
