/**
 * What a host is doing, decided from two sources: the platform backend (control) and the media
 * itself. Pure: signals in, events out; the caller supplies the clock through `at` and ticks.
 */
export type HostEventType =
  | 'joined'
  | 'left'
  | 'dropped'
  | 'resumed'
  | 'camera-off'
  | 'camera-on'
  | 'microphone-off'
  | 'microphone-on'
  /**
   * The first audio of a publish reached the ingest. Connecting (ICE, DTLS) takes a moment after
   * the publish, and up to seconds on a busy machine: the recordings, started at the publish,
   * hold silence until then, which is not the host's.
   */
  | 'audio-started'
  /**
   * The first picture of a publish a recorder can decode (a keyframe) reached the ingest. Until
   * then the recordings show no picture of the host, which is not a black camera.
   */
  | 'video-started';

export interface HostEvent {
  type: HostEventType;
  hostId: string;
  /** ms since the Unix epoch. */
  at: number;
  cause: 'publish' | 'control' | 'media' | 'grace-expired';
  detail?: string;
}

export type HostSignal =
  | { type: 'published'; at: number }
  | { type: 'unpublished'; at: number; reason: 'delete' | 'ice-failed' | 'timeout' }
  | { type: 'video'; at: number }
  | { type: 'audio'; at: number }
  /** The ingest forwarded the publish's first keyframe. */
  | { type: 'picture'; at: number }
  | {
      type: 'control';
      at: number;
      what: 'camera-off' | 'camera-on' | 'microphone-off' | 'microphone-on';
    }
  | { type: 'tick'; at: number };

export interface PresenceRules {
  /** No video for this long means the camera is off. */
  videoTimeoutMs: number;
  /** A host that drops and publishes again within this keeps its recordings. */
  graceMs: number;
}

export const DEFAULT_PRESENCE_RULES: PresenceRules = { videoTimeoutMs: 2000, graceMs: 10_000 };

type Connection = 'absent' | 'publishing' | 'dropped';

export interface HostPresence {
  hostId: string;
  connection: Connection;
  droppedAt: number | null;
  cameraOn: boolean;
  /** Camera turned off by the control side: media alone does not turn it back on. */
  cameraOffByControl: boolean;
  microphoneOn: boolean;
  lastVideoAt: number | null;
  /** Last audio of the current publish; null while it has sent none. */
  lastAudioAt: number | null;
  /** The current publish's first picture; null before it. */
  pictureAt: number | null;
}

export function initialPresence(hostId: string): HostPresence {
  return {
    hostId,
    connection: 'absent',
    droppedAt: null,
    cameraOn: false,
    cameraOffByControl: false,
    microphoneOn: false,
    lastVideoAt: null,
    lastAudioAt: null,
    pictureAt: null,
  };
}

/**
 * A host whose audio stopped with its video has not turned its camera off: it is gone (crashed,
 * lost its network) and its session will fail, which is a drop. Calling it camera-off first would
 * switch its recording to audio only seconds before the drop, and the grace period, which exists
 * to keep a briefly lost host's recording whole, would never get to do so. A publish that sends
 * no audio at all keeps the video rule alone.
 */
function silentToo(s: HostPresence, at: number, rules: PresenceRules): boolean {
  return s.lastAudioAt !== null && at - s.lastAudioAt >= rules.videoTimeoutMs;
}

/** Applies one signal; returns the new state and the events it caused, in order. */
export function applySignal(
  state: HostPresence,
  signal: HostSignal,
  rules: PresenceRules = DEFAULT_PRESENCE_RULES,
): { state: HostPresence; events: HostEvent[] } {
  const s = { ...state };
  const events: HostEvent[] = [];
  const emit = (type: HostEventType, cause: HostEvent['cause'], detail?: string) =>
    events.push({ type, hostId: s.hostId, at: signal.at, cause, ...(detail ? { detail } : {}) });

  switch (signal.type) {
    case 'published':
      if (s.connection === 'publishing') break;
      emit(s.connection === 'dropped' ? 'resumed' : 'joined', 'publish');
      if (s.connection === 'absent') {
        s.cameraOn = true;
        s.microphoneOn = true;
        s.cameraOffByControl = false;
      }
      s.connection = 'publishing';
      s.droppedAt = null;
      s.lastVideoAt = signal.at;
      s.lastAudioAt = null;
      s.pictureAt = null;
      break;
    case 'unpublished':
      if (s.connection !== 'publishing') break;
      if (signal.reason === 'delete') {
        s.connection = 'absent';
        emit('left', 'publish', 'ended the publish');
      } else {
        s.connection = 'dropped';
        s.droppedAt = signal.at;
        emit('dropped', 'publish', signal.reason);
      }
      break;
    case 'video':
      if (s.connection !== 'publishing') break;
      s.lastVideoAt = signal.at;
      if (!s.cameraOn && !s.cameraOffByControl) {
        s.cameraOn = true;
        emit('camera-on', 'media');
      }
      break;
    case 'audio':
      if (s.connection !== 'publishing') break;
      if (s.lastAudioAt === null) emit('audio-started', 'media');
      s.lastAudioAt = signal.at;
      break;
    case 'picture':
      if (s.connection !== 'publishing' || s.pictureAt !== null) break;
      s.pictureAt = signal.at;
      emit('video-started', 'media');
      break;
    case 'control': {
      if (s.connection === 'absent') break;
      const on = signal.what.endsWith('-on');
      if (signal.what.startsWith('camera')) {
        s.cameraOffByControl = !on;
        if (s.cameraOn !== on) {
          s.cameraOn = on;
          emit(signal.what, 'control');
        }
      } else if (s.microphoneOn !== on) {
        s.microphoneOn = on;
        emit(signal.what, 'control');
      }
      break;
    }
    case 'tick':
      if (
        s.connection === 'dropped' &&
        s.droppedAt !== null &&
        signal.at - s.droppedAt >= rules.graceMs
      ) {
        s.connection = 'absent';
        s.droppedAt = null;
        emit('left', 'grace-expired', `did not come back within ${rules.graceMs / 1000} s`);
      } else if (
        s.connection === 'publishing' &&
        s.cameraOn &&
        s.lastVideoAt !== null &&
        signal.at - s.lastVideoAt >= rules.videoTimeoutMs &&
        !silentToo(s, signal.at, rules)
      ) {
        s.cameraOn = false;
        emit('camera-off', 'media', `no video for ${rules.videoTimeoutMs / 1000} s`);
      }
      break;
  }
  return { state: s, events };
}
