import type { HeldUpMedia } from './held-up-event.ts';
import { DEFAULT_PRESENCE_RULES, type HostEvent, type HostEventType } from './host-presence.ts';
import { parseTrack } from './snippet-key.ts';
import type { TimeRange } from './time-range.ts';

/**
 * When a track has nobody on air. Black and silence then are not a fault to review: the composite
 * before the first host joins or after the last one left, a host's own recording after it
 * dropped, its audio while its microphone is off. Scoring leaves those stretches out.
 */

export interface PresenceChange {
  hostId: string;
  change: HostEventType;
  atMs: number;
  /** Why, as the host event says: 'media' for what the ingest noticed in the packets. */
  cause?: HostEvent['cause'];
}

/**
 * When a change really happened. A camera the ingest finds off (no video for a while) was off
 * from the start of that while: its last picture stood still, which is not a frozen camera.
 */
function effectiveMs(c: PresenceChange): number {
  return c.change === 'camera-off' && c.cause === 'media'
    ? c.atMs - DEFAULT_PRESENCE_RULES.videoTimeoutMs
    : c.atMs;
}

interface HostState {
  publishing: boolean;
  camera: boolean;
  mic: boolean;
  /** Its audio reaches the ingest: false from a publish until its 'audio-started'. */
  audio: boolean;
  /** Its first picture reached the ingest: false from a publish until its 'video-started'. */
  picture: boolean;
}

/** Which '-started' events of a publish follow it: until each, that kind is off air. */
interface Awaits {
  audio: boolean;
  picture: boolean;
}

/**
 * Changes recorded before an '-started' event existed have none, and keep that kind on air from
 * the publish.
 */
function apply(s: HostState, change: HostEventType, awaits: Awaits): HostState {
  const started = { audio: !awaits.audio, picture: !awaits.picture };
  switch (change) {
    case 'joined':
      // A host joins with camera and microphone on; the ingest says so when either is not.
      return { publishing: true, camera: true, mic: true, ...started };
    case 'resumed':
      return { ...s, publishing: true, ...started };
    case 'audio-started':
      return { ...s, audio: true };
    case 'video-started':
      return { ...s, picture: true };
    case 'dropped':
    case 'left':
      return { ...s, publishing: false };
    case 'camera-off':
      return { ...s, camera: false };
    case 'camera-on':
      return { ...s, camera: true };
    case 'microphone-off':
      return { ...s, mic: false };
    case 'microphone-on':
      return { ...s, mic: true };
  }
}

export interface OffAir {
  audio: TimeRange[];
  video: TimeRange[];
}

/**
 * Off-air stretches with the recorder's hold-ups added: to the picture always, to the sound
 * unless the hold-up held the picture alone. Null only when neither is known.
 */
export function withHeldUp(
  offAir: OffAir | null,
  heldUp: readonly (TimeRange & { media?: HeldUpMedia })[] | undefined,
): OffAir | null {
  if (!heldUp?.length) return offAir;
  const range = ({ startMs, endMs }: TimeRange) => ({ startMs, endMs });
  return {
    audio: [...(offAir?.audio ?? []), ...heldUp.filter((h) => h.media !== 'picture').map(range)],
    video: [...(offAir?.video ?? []), ...heldUp.map(range)],
  };
}

function push(out: TimeRange[], startMs: number, endMs: number): void {
  if (endMs <= startMs) return;
  const last = out.at(-1);
  if (last && last.endMs >= startMs) last.endMs = Math.max(last.endMs, endMs);
  else out.push({ startMs, endMs });
}

/** The publishes (joined, resumed) that a `started` change of the same host follows before it ends. */
function publishesAwaiting(
  sorted: readonly PresenceChange[],
  started: HostEventType,
): Set<PresenceChange> {
  const out = new Set<PresenceChange>();
  const open = new Map<string, PresenceChange>();
  for (const c of sorted) {
    if (c.change === 'joined' || c.change === 'resumed') open.set(c.hostId, c);
    else if (c.change === 'left' || c.change === 'dropped') open.delete(c.hostId);
    else if (c.change === started) {
      const publish = open.get(c.hostId);
      if (publish) out.add(publish);
      open.delete(c.hostId);
    }
  }
  return out;
}

/**
 * The stretches of `range` when the track is off air, from its livestream's host changes (any
 * order). Audio is on air while a publishing host has its microphone on and its audio has reached
 * the ingest; video while one has its camera on and its first picture has reached the ingest. For a host's own track only that host counts, for the composite any host.
 */
export function offAirRanges(
  changes: readonly PresenceChange[],
  track: string,
  range: TimeRange,
): OffAir {
  const { hostId } = parseTrack(track);
  const mine = changes
    .filter((c) => hostId === null || c.hostId === hostId)
    .map((c) => ({ ...c, atMs: effectiveMs(c) }))
    .sort((a, b) => a.atMs - b.atMs);
  const awaitingAudio = publishesAwaiting(mine, 'audio-started');
  const awaitingPicture = publishesAwaiting(mine, 'video-started');
  const states = new Map<string, HostState>();
  const onAir = () => {
    const all = [...states.values()].filter((s) => s.publishing);
    return {
      audio: all.some((s) => s.mic && s.audio),
      video: all.some((s) => s.camera && s.picture),
    };
  };
  const out: OffAir = { audio: [], video: [] };
  let at = range.startMs;
  let now = onAir();
  const close = (untilMs: number) => {
    const to = Math.min(untilMs, range.endMs);
    if (!now.audio) push(out.audio, at, to);
    if (!now.video) push(out.video, at, to);
    at = Math.max(at, to);
  };
  for (const c of mine) {
    if (c.atMs > range.startMs) close(c.atMs);
    const before = states.get(c.hostId) ?? {
      publishing: false,
      camera: false,
      mic: false,
      audio: false,
      picture: false,
    };
    const awaits = { audio: awaitingAudio.has(c), picture: awaitingPicture.has(c) };
    states.set(c.hostId, apply(before, c.change, awaits));
    now = onAir();
    if (c.atMs >= range.endMs) break;
  }
  close(range.endMs);
  return out;
}
