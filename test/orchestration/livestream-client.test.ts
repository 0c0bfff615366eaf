import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import type { HostEvent } from '../../src/domain/host-presence.ts';
import { workflowIds } from '../../src/domain/recording-plan.ts';
import { LivestreamGoneError } from '../../src/orchestration/host-event-relay.ts';
import { LivestreamClient } from '../../src/orchestration/livestream-client.ts';
import { connectClient } from '../../src/orchestration/temporal/connection.ts';
import { startDevServer } from '../../src/orchestration/temporal/dev-server.ts';
import { tempDir } from '../support/tapedeck.ts';

const joined: HostEvent = { type: 'joined', hostId: 'h1', at: Date.now() } as HostEvent;

test(
  "a host event for a livestream without a running workflow is told apart from Temporal's failures",
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('livestream-client');
    const dev = await startDevServer({ dataDir: dir, uiPort: false });
    const client = await connectClient({ address: dev.address, namespace: dev.namespace });
    try {
      const livestreams = new LivestreamClient(client);
      // Never started: a livestream opened at the ingest alone.
      await assert.rejects(livestreams.hostEvent('never-started', joined), LivestreamGoneError);
      // Started (no worker needs to run it), then terminated by an operator.
      await livestreams.start({
        livestreamId: 'terminated',
        nodeId: 'node1',
        profiles: {} as never,
      });
      const handle = client.workflow.getHandle(workflowIds.livestream('terminated'));
      await livestreams.hostEvent('terminated', joined);
      await handle.terminate('test');
      await assert.rejects(livestreams.hostEvent('terminated', joined), LivestreamGoneError);
    } finally {
      await client.connection.close();
      await dev.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
