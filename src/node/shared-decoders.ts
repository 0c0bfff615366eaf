import type { SharedVideoGrant, SharedVideoSource } from '../ingest/ingest-port.ts';
import type { LiveIngest } from '../ingest/live-ingest.ts';
import { SharedDecoder } from '../media/shared-decoder.ts';
import { freeTcpPort, freeUdpPort } from '../support/free-port.ts';

interface Running {
  /** Codec, payload type and rate the decoder was made for: a change needs a new decoder. */
  made: string;
  decoder: SharedDecoder;
  detach: () => void;
  ready: Promise<void>;
}

export interface SharedDecodersOptions {
  ingest: LiveIngest;
  log?: (line: string) => void;
}

/**
 * The node's shared decoders: one process per publishing host that decodes its video once, for
 * the composite and the host's own recording alike, where each would otherwise decode a copy of
 * its own. A decoder is made when a recording first asks for the host's picture, takes one copy
 * of the host's RTP from the ingest (and sends its RTCP back to the host's feedback port), and
 * lives until the livestream closes. Across a host's sessions it stays: the ingest keeps the
 * host's RTP one stream.
 */
export class SharedDecoders implements SharedVideoSource {
  private readonly running = new Map<string, Running>();
  private closed = false;

  constructor(private readonly o: SharedDecodersOptions) {}

  /** Every recording of the host reads the decoder, the host's own as much as the composite. */
  async sharedVideo(
    livestreamId: string,
    hostId: string,
    fps: number,
  ): Promise<SharedVideoGrant | null> {
    if (this.closed) return null;
    const video = this.o.ingest.snapshot(livestreamId).find((h) => h.hostId === hostId)
      ?.media?.video;
    if (!video || (video.codec !== 'H264' && video.codec !== 'VP8')) return null;
    const key = `${livestreamId}/${hostId}`;
    const made = `${video.codec}/${video.payloadType}/${fps}`;
    let r = this.running.get(key);
    if (r && r.made !== made) {
      this.running.delete(key);
      await this.end(r);
      r = undefined;
    }
    if (!r) {
      const decoder = new SharedDecoder({
        video: { port: 0, codec: video.codec, payloadType: video.payloadType },
        framesPort: 0,
        fps,
      });
      const fresh: Running = { made, decoder, detach: () => undefined, ready: Promise.resolve() };
      // In the map before the first await, so a second recording asking meanwhile shares it.
      this.running.set(key, fresh);
      fresh.ready = this.launch(livestreamId, hostId, fresh);
      r = fresh;
    }
    await r.ready;
    return { framesPort: r.decoder.spec.framesPort };
  }

  /** The pid of a host's decoder process while it runs (for tests and the benchmark). */
  decoderPid(livestreamId: string, hostId: string): number | null {
    return this.running.get(`${livestreamId}/${hostId}`)?.decoder.pid ?? null;
  }

  async closeLivestream(livestreamId: string): Promise<void> {
    const ending = [...this.running].filter(([key]) => key.startsWith(`${livestreamId}/`));
    for (const [key] of ending) this.running.delete(key);
    await Promise.all(ending.map(([, r]) => this.end(r)));
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((r) => this.end(r)));
  }

  private async launch(livestreamId: string, hostId: string, r: Running): Promise<void> {
    const port = await freeUdpPort();
    const feedbackPort = await this.o.ingest
      .feedbackPort(livestreamId, hostId)
      .catch(() => undefined);
    const spec = r.decoder.spec;
    spec.framesPort = await freeTcpPort();
    spec.video = { ...spec.video, port, ...(feedbackPort === undefined ? {} : { feedbackPort }) };
    const log = this.o.log ?? (() => undefined);
    r.decoder.on('exited', (e) =>
      log(
        `shared decoder ${livestreamId}/${hostId} exited (${e.signal ?? `code ${e.code}`}); ` +
          `again in ${e.restartInMs} ms${e.stderr ? `: ${e.stderr.split('\n').pop()}` : ''}`,
      ),
    );
    // The RTP goes to the decoder's port from before it listens: what comes first is dropped
    // by the kernel, as for any recorder, and the decoder waits for a keyframe either way.
    r.detach = this.o.ingest.attach(livestreamId, hostId, 'video', { port });
    await r.decoder.start();
  }

  private async end(r: Running): Promise<void> {
    await r.ready.catch(() => undefined);
    r.detach();
    await r.decoder.stop();
  }
}
