import { request } from 'node:http';
import type { WorkerMetrics } from '../../domain/worker-metrics.ts';
import type {
  HostSnapshot,
  IngestPort,
  PictureReader,
  RecorderPorts,
  SharedVideoGrant,
  Subscription,
} from '../ingest-port.ts';
import type { IngestHostEvent } from '../live-ingest.ts';

/** The IngestPort of a node, over its node API: what a media worker process uses. */
export class RemoteIngestPort implements IngestPort {
  constructor(
    private readonly baseUrl: string,
    private readonly secret: string,
  ) {}

  async hosts(livestreamId: string): Promise<HostSnapshot[]> {
    const text = await this.call('GET', `/node/v1/livestreams/${livestreamId}/hosts`);
    return JSON.parse(text) as HostSnapshot[];
  }

  async attach(
    livestreamId: string,
    hostId: string,
    owner: string,
    ports: RecorderPorts,
  ): Promise<void> {
    await this.call(
      'PUT',
      `/node/v1/livestreams/${livestreamId}/hosts/${hostId}/recorders/${owner}`,
      JSON.stringify(ports),
    );
  }

  async detach(livestreamId: string, hostId: string, owner: string): Promise<void> {
    await this.call(
      'DELETE',
      `/node/v1/livestreams/${livestreamId}/hosts/${hostId}/recorders/${owner}`,
    );
  }

  async feedbackPort(livestreamId: string, hostId: string): Promise<number> {
    const text = await this.call(
      'GET',
      `/node/v1/livestreams/${livestreamId}/hosts/${hostId}/feedback`,
    );
    return (JSON.parse(text) as { port: number }).port;
  }

  async sharedVideo(
    livestreamId: string,
    hostId: string,
    fps: number,
    reader: PictureReader,
  ): Promise<SharedVideoGrant | null> {
    const text = await this.call(
      'GET',
      `/node/v1/livestreams/${livestreamId}/hosts/${hostId}/shared-video?fps=${fps}&reader=${reader}`,
    );
    return JSON.parse(text) as SharedVideoGrant | null;
  }

  async sharesDecoding(): Promise<boolean> {
    const text = await this.call('GET', '/node/v1/shared-decode');
    return (JSON.parse(text) as { enabled: boolean }).enabled;
  }

  async reportMetrics(slot: number, metrics: WorkerMetrics): Promise<void> {
    await this.call('PUT', `/node/v1/workers/${slot}/metrics`, JSON.stringify(metrics));
  }

  follow(
    livestreamId: string,
    handlers: {
      onSnapshot: (hosts: HostSnapshot[]) => void;
      onEvent: (e: IngestHostEvent) => void;
      onError?: (err: Error) => void;
    },
  ): Subscription {
    let closed = false;
    let current: { destroy(): void } | null = null;
    let retry: NodeJS.Timeout | undefined;
    const connect = () => {
      if (closed) return;
      const url = new URL(`/node/v1/livestreams/${livestreamId}/events`, this.baseUrl);
      const req = request(url, { headers: { Authorization: `Bearer ${this.secret}` } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reconnect(new Error(`node API answered ${res.statusCode}`));
          return;
        }
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line) continue;
            const msg = JSON.parse(line) as { snapshot?: HostSnapshot[]; event?: IngestHostEvent };
            if (msg.snapshot) handlers.onSnapshot(msg.snapshot);
            else if (msg.event) handlers.onEvent(msg.event);
          }
        });
        res.on('end', () => reconnect(new Error('node API closed the event stream')));
        res.on('error', (err) => reconnect(err));
      });
      req.on('error', (err) => reconnect(err));
      req.end();
      current = req;
    };
    // A node that restarts comes back with a fresh snapshot, which the follower reconciles.
    const reconnect = (err: Error) => {
      if (closed) return;
      handlers.onError?.(err);
      clearTimeout(retry);
      retry = setTimeout(connect, 1_000);
    };
    connect();
    return {
      close: () => {
        closed = true;
        clearTimeout(retry);
        current?.destroy();
      },
    };
  }

  private call(method: string, path: string, body?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.baseUrl),
        {
          method,
          headers: {
            Authorization: `Bearer ${this.secret}`,
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          },
          timeout: 10_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            if ((res.statusCode ?? 500) >= 300)
              reject(new Error(`node API ${method} ${path}: ${res.statusCode} ${text}`));
            else resolve(text);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`node API ${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
