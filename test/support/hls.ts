import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { decodeErrors, probeMedia } from './ffprobe.ts';

export interface HlsSegment {
  uri: string;
  durationSec: number;
}

export interface HlsCheck {
  targetDurationSec: number;
  segments: HlsSegment[];
  totalSec: number;
  /** Empty when the playlist and every segment are sound. */
  errors: string[];
}

interface ParsedPlaylist {
  targetDurationSec: number;
  segments: HlsSegment[];
  errors: string[];
}

function parsePlaylist(text: string): ParsedPlaylist {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const errors: string[] = [];
  if (lines[0] !== '#EXTM3U') errors.push('playlist does not start with #EXTM3U');
  let targetDurationSec = Number.NaN;
  const segments: HlsSegment[] = [];
  let pending: number | undefined;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      targetDurationSec = Number(line.slice('#EXT-X-TARGETDURATION:'.length));
    } else if (line.startsWith('#EXTINF:')) {
      pending = Number.parseFloat(line.slice('#EXTINF:'.length));
    } else if (line !== '' && !line.startsWith('#')) {
      if (pending === undefined) errors.push(`${line}: no #EXTINF before segment URI`);
      segments.push({ uri: line, durationSec: pending ?? Number.NaN });
      pending = undefined;
    }
  }
  if (!Number.isFinite(targetDurationSec)) errors.push('missing or bad #EXT-X-TARGETDURATION');
  if (segments.length === 0) errors.push('playlist lists no segments');
  return { targetDurationSec, segments, errors };
}

async function checkSegment(path: string, uri: string): Promise<string[]> {
  try {
    await stat(path);
  } catch {
    return [`${uri}: missing`];
  }
  const errors: string[] = [];
  const decode = await decodeErrors(path);
  if (decode !== '') errors.push(`${uri}: decode errors: ${decode}`);
  try {
    const info = await probeMedia(path);
    if (!info.video) errors.push(`${uri}: no video stream`);
  } catch (err) {
    errors.push(`${uri}: probe failed: ${(err as Error).message}`);
  }
  return errors;
}

/**
 * Parses a media playlist and checks every listed segment exists locally,
 * decodes without errors and has a video stream. Problems are collected in
 * `errors` rather than thrown so a test can show all of them at once.
 */
export async function checkHls(playlistPath: string): Promise<HlsCheck> {
  const parsed = parsePlaylist(await readFile(playlistPath, 'utf8'));
  const errors = [...parsed.errors];
  const base = dirname(playlistPath);
  for (const seg of parsed.segments) {
    if (!Number.isFinite(seg.durationSec)) errors.push(`${seg.uri}: bad #EXTINF duration`);
    // RFC 8216 4.3.3.1: EXTINF rounded to an integer must not exceed the target.
    if (Math.round(seg.durationSec) > parsed.targetDurationSec) {
      errors.push(`${seg.uri}: ${seg.durationSec} s exceeds target ${parsed.targetDurationSec} s`);
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(seg.uri)) {
      errors.push(`${seg.uri}: only playlist-relative or absolute file paths are checked`);
      continue;
    }
    errors.push(...(await checkSegment(resolve(base, seg.uri), seg.uri)));
  }
  return {
    targetDurationSec: parsed.targetDurationSec,
    segments: parsed.segments,
    totalSec: parsed.segments.reduce((sum, s) => sum + (s.durationSec || 0), 0),
    errors,
  };
}

export interface WaitForEndListOptions {
  timeoutMs?: number;
  /** Stops polling (rejecting with an AbortError), e.g. when the writer died. */
  signal?: AbortSignal;
}

/**
 * Resolves once the playlist ends with #EXT-X-ENDLIST, i.e. the writer has
 * closed its last segment. GStreamer 1.22's hlssink2 finishes the playlist but
 * then, in roughly 1 of 6 runs, never posts EOS on the pipeline bus, so
 * gst-launch hangs; callers wait for this instead and then stop the process.
 */
export async function waitForHlsEndList(
  playlistPath: string,
  opts: WaitForEndListOptions = {},
): Promise<void> {
  const { timeoutMs = 60_000, signal } = opts;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    const text = await readFile(playlistPath, 'utf8').catch(() => '');
    if (/^#EXT-X-ENDLIST\s*$/m.test(text)) return;
    await sleep(100, undefined, { signal });
  }
  throw new Error(`${playlistPath} has no #EXT-X-ENDLIST after ${timeoutMs} ms`);
}
