import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import { parseSnippetKey, type SnippetKeyParts } from '../../src/domain/snippet-key.ts';
import { SyntheticHost } from '../../src/ingest/publisher/synthetic-host.ts';
import { startNode, type NodeConfig, type RunningNode } from '../../src/node/node.ts';
import { tempDir } from '../support/tapedeck.ts';

// JSON from the API and the bus, as parsed: the assertions that read a field check it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface NodeRig {
  dir: string;
  node: RunningNode;
  lines: string[];
  /** Calls the control API with the node's API key (or `key`). */
  api(
    method: string,
    path: string,
    body?: unknown,
    key?: string,
  ): Promise<{ status: number; body: Json }>;
  /**
   * Creates a livestream over the API and has its hosts publish (with `publisherArgs` added to
   * the publisher's own); resolves once all answered.
   */
  livestream(
    hostIds: string[],
    publisherArgs?: string[],
  ): Promise<{ livestreamId: string; hosts: Map<string, SyntheticHost> }>;
  close(): Promise<void>;
}

const rigs: NodeRig[] = [];
// Also when a test fails or times out: no server, worker or publisher may outlive the file.
after(async () => {
  await Promise.allSettled(rigs.splice(0).map((r) => r.close()));
});

export async function startNodeRig(
  prefix: string,
  config: Partial<NodeConfig> = {},
): Promise<NodeRig> {
  const dir = await tempDir(prefix);
  const lines: string[] = [];
  const node = await startNode({
    dataDir: dir,
    apiPort: 0,
    whipPort: 0,
    temporalUi: false,
    log: (l) => {
      lines.push(l);
      if (process.env.TAPEDECK_TEST_LOG) process.stderr.write(`${l}\n`);
    },
    ...config,
  });
  const publishers: SyntheticHost[] = [];
  let closed: Promise<void> | null = null;
  const rig: NodeRig = {
    dir,
    node,
    lines,
    async api(method, path, body, key) {
      const res = await fetch(`${node.apiUrl}${path}`, {
        method,
        headers: {
          ...(key !== '' ? { Authorization: `Bearer ${key ?? node.apiKey}` } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(body !== undefined
          ? { body: typeof body === 'string' ? body : JSON.stringify(body) }
          : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async livestream(hostIds, publisherArgs = []) {
      const made = await rig.api('POST', '/v1/livestreams', { hosts: hostIds });
      if (made.status !== 201)
        throw new Error(`create: ${made.status} ${JSON.stringify(made.body)}`);
      const livestreamId = made.body.livestreamId as string;
      await node.livestreams.compositeRecording(livestreamId, 120_000);
      const hosts = new Map<string, SyntheticHost>();
      for (const [i, h] of (
        made.body.hosts as { hostId: string; whipUrl: string; token: string }[]
      ).entries()) {
        const host = new SyntheticHost({
          whipUrl: h.whipUrl,
          token: h.token,
          name: h.hostId,
          toneHz: 330 + 110 * i,
          pattern: 'smpte',
          // Small pictures: the publishers share this machine's two cores with what they test.
          extraArgs: ['--width', '320', '--height', '180', '--kbps', '400', ...publisherArgs],
        });
        publishers.push(host);
        hosts.set(h.hostId, host);
      }
      await Promise.all([...hosts.values()].map((h) => h.answered()));
      return { livestreamId, hosts };
    },
    close() {
      closed ??= (async () => {
        await Promise.allSettled(publishers.map((p) => p.stop('SIGKILL')));
        await node.stop();
        if (!process.env.TAPEDECK_TEST_KEEP) await rm(dir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
  rigs.push(rig);
  return rig;
}

export interface StoredSnippet extends SnippetKeyParts {
  key: string;
  file: string;
}

/** Every snippet of a livestream in the rig's file store, by track, in time order. */
export async function storedTracks(
  rig: NodeRig,
  livestreamId: string,
): Promise<Map<string, StoredSnippet[]>> {
  const tracks = new Map<string, StoredSnippet[]>();
  for await (const o of rig.node.store.list(`${livestreamId}/`)) {
    const parts = parseSnippetKey(o.key);
    const list = tracks.get(parts.track) ?? [];
    list.push({ ...parts, key: o.key, file: join(rig.dir, 'store', o.key) });
    tracks.set(parts.track, list);
  }
  for (const list of tracks.values()) list.sort((a, b) => a.startMs - b.startMs);
  return tracks;
}

/** The CloudEvents on the node's embedded bus. */
export async function busEvents(rig: NodeRig): Promise<{ type: string; data: Json }[]> {
  const text = await readFile(join(rig.dir, 'bus', 'events.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { type: string; data: Json });
}
