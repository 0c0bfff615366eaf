import type { Size } from '../domain/profile.ts';
import type { PictureReader, SharedVideoGrant, SharedVideoSource } from '../ingest/ingest-port.ts';
import { freeTcpPort } from '../support/free-port.ts';

/**
 * A node whose composites decode nothing: each host's own recording, which decodes the host's
 * picture anyway, serves it to the composite scaled to a tile, on a loopback port the node gives
 * the host for the livestream's life. The recordings that follow one another for a host (the
 * camera off and on, a takeover) serve on the same port, and the composite reads it again after
 * each; between them it shows the host's placeholder. No process of its own, and half the video
 * copies at the ingest: the composite takes only the hosts' sound as RTP.
 */
export class HostTiles implements SharedVideoSource {
  private readonly ports = new Map<string, Promise<number>>();
  private closed = false;

  /** `tile`: the largest picture of one host the node's composites show (`largestTile`). */
  constructor(private readonly tile: Size) {}

  async sharedVideo(
    livestreamId: string,
    hostId: string,
    _fps: number,
    reader: PictureReader,
  ): Promise<SharedVideoGrant | null> {
    if (this.closed) return null;
    const key = `${livestreamId}/${hostId}`;
    let port = this.ports.get(key);
    if (!port) {
      port = freeTcpPort();
      this.ports.set(key, port);
    }
    const framesPort = await port;
    return reader === 'host' ? { framesPort, serve: { ...this.tile } } : { framesPort };
  }

  closeLivestream(livestreamId: string): Promise<void> {
    for (const key of [...this.ports.keys()])
      if (key.startsWith(`${livestreamId}/`)) this.ports.delete(key);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    this.ports.clear();
    return Promise.resolve();
  }
}
