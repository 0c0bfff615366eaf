/** One pipeline to run to its end; each request gets exactly one reply with the same id. */
export interface MeasureRequest {
  id: number;
  /** A gst-launch description whose sinks write to files. */
  pipeline: string;
}

export type MeasureReply =
  | { id: number; ok: true; /** CPU the worker spent on it (all its threads). */ cpuSec: number }
  | { id: number; ok: false; error: string };

export interface MeasureReady {
  ready: true;
  pid: number;
}
