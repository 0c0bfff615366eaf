import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A GStreamer object taken out of the pipeline lives on until V8 collects its JavaScript wrapper:
// a removed input's bins keep their buses' socket pairs, its sources' eventfds and its buffer
// pools, and a busy worker's heap can go minutes without a collection. A soak counted exactly
// that (8 sockets and 2 eventfds more in a recording that had replaced an input) as growth.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let pending: NodeJS.Timeout | null = null;

/**
 * Collects soon after something was removed from a pipeline, once the caller's references are
 * gone. Several removals in a row share one collection.
 */
export function collectRemoved(delayMs = 500): void {
  pending ??= setTimeout(() => {
    pending = null;
    gc();
    // A child's wrapper is collectable only once its parent's is gone and GLib has dropped the
    // parent's reference to it (a bus is held by its pipeline): a second pass, a turn later.
    setImmediate(gc);
  }, delayMs);
}
