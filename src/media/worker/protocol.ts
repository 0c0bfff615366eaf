import type { VideoWindow } from '../../domain/quality-rules.ts';
import type { InputSpec, RecordingSpec } from '../pipeline/spec.ts';

/** Requests the parent sends; each gets exactly one reply with the same id. */
export type WorkerRequest =
  | { method: 'start'; params: { spec: RecordingSpec; startIndex: number } }
  | { method: 'stop'; params: { timeoutMs: number } }
  | { method: 'addInput'; params: { input: InputSpec } }
  | { method: 'removeInput'; params: { id: string } }
  | { method: 'setCamera'; params: { id: string; on: boolean } }
  | { method: 'setLayout'; params: { order: string[] } }
  | { method: 'stats'; params: Record<string, never> }
  /** Before start only: loads plugins and fonts while the worker is idle (a pool's spare). */
  | { method: 'warmUp'; params: Record<string, never> };

export type WorkerMethod = WorkerRequest['method'];

export interface StartResult {
  /** Wall-clock time (ns since the Unix epoch, as a decimal string) at running time 0. */
  baseTimeUtcNs: string;
  pid: number;
}

export interface WorkerStats {
  runningTimeNs: string;
  inputs: { id: string; cameraOn: boolean }[];
  snippetsClosed: number;
  rtmp: 'off' | 'streaming' | 'failed';
}

export interface ResultOf {
  start: StartResult;
  stop: { snippetsClosed: number };
  addInput: { runningTimeNs: string };
  removeInput: { runningTimeNs: string };
  setCamera: { runningTimeNs: string };
  setLayout: { runningTimeNs: string };
  stats: WorkerStats;
  warmUp: { ms: number };
}

export type RequestMessage = WorkerRequest & { id: number };

export type ReplyMessage =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string } };

export interface SnippetOpened {
  location: string;
  seq: number;
  runningTimeNs: string;
  /** Wall-clock time of the snippet's start by the pipeline clock, ns since the Unix epoch. */
  utcNs: string;
}

export interface SnippetClosed {
  location: string;
  /** Sequence number parsed from the file name; equals splitmuxsink's fragment index. */
  seq: number;
  startRunningTimeNs: string;
  endRunningTimeNs: string;
  startUtcNs: string;
  endUtcNs: string;
  /**
   * The snippet's pictures as recorded, measured for scoring (see picturesOutput); absent from
   * audio recordings and when they could not be read.
   */
  pictures?: VideoWindow[];
}

/** Notifications the worker sends on its own. */
export type WorkerEvent =
  | { event: 'ready'; data: { pid: number } }
  | { event: 'snippet-opened'; data: SnippetOpened }
  | { event: 'snippet-closed'; data: SnippetClosed }
  | { event: 'output-failed'; data: { output: 'rtmp' | 'hls'; message: string; retryInMs: number } }
  | { event: 'output-restored'; data: { output: 'rtmp' | 'hls' } }
  | { event: 'warning'; data: { source: string; message: string } }
  /** An input's shared decoder is gone: its placeholder shows until input-restored. */
  | { event: 'input-lost'; data: { id: string; what: 'video'; message: string } }
  | { event: 'input-restored'; data: { id: string; what: 'video' } }
  /**
   * An input's first sound left its jitter buffer, between `earliestNs` and `latestNs` (decimal)
   * after the input joined, by the sound's own timestamp.
   */
  | { event: 'sound-started'; data: { id: string; earliestNs: string; latestNs: string } }
  /**
   * The recorder itself was held up (its process starved or stopped) from `fromMs` (ms since the
   * epoch) for `ms`, either end within `withinMs`: sent with the warning that says it in words.
   * With `media: 'picture'` only the picture was: a composite showed placeholders while its
   * hosts' pictures, served by their own recordings, had not reached it yet.
   */
  | {
      event: 'held-up';
      data: { fromMs: number; ms: number; withinMs: number; media?: 'picture' };
    }
  | { event: 'error'; data: { source: string; message: string; debug: string } }
  | { event: 'eos'; data: { snippetsClosed: number } };

export type WorkerMessage = ReplyMessage | WorkerEvent;

export const isReply = (m: WorkerMessage): m is ReplyMessage => 'id' in m;
