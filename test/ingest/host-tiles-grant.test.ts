import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalIngestPort } from '../../src/ingest/ingest-port.ts';
import { LiveIngest } from '../../src/ingest/live-ingest.ts';
import { RemoteIngestPort } from '../../src/ingest/node-api/client.ts';
import { startNodeApi } from '../../src/ingest/node-api/server.ts';
import { HostTiles } from '../../src/node/host-tiles.ts';

const TILE = { width: 360, height: 202 };

test(
  "a node that serves tiles tells a host's recording to serve on the host's port, and the composite to read it",
  { timeout: 20_000 },
  async () => {
    const tiles = new HostTiles(TILE);
    const ingest = new LiveIngest();
    const api = await startNodeApi({
      ingest: new LocalIngestPort(ingest, tiles),
      secret: 's3cret',
    });
    try {
      // Workers ask over the node API, as a worker process does.
      const remote = new RemoteIngestPort(api.url, 's3cret');
      const host = await remote.sharedVideo('ls1', 'h1', 15, 'host');
      const composite = await remote.sharedVideo('ls1', 'h1', 15, 'composite');
      assert.ok(host && composite);
      assert.deepEqual(host, { framesPort: composite.framesPort, serve: TILE });
      assert.deepEqual(composite, { framesPort: host.framesPort });
      assert.equal(await remote.sharesDecoding(), true, 'the composite waits for shared pictures');
      // The same port for every later recording of the host; another host has its own.
      assert.deepEqual(await remote.sharedVideo('ls1', 'h1', 15, 'host'), host);
      const other = await remote.sharedVideo('ls1', 'h2', 15, 'composite');
      assert.notEqual(other!.framesPort, host.framesPort);
      await tiles.closeLivestream('ls1');
      await tiles.close();
      assert.equal(await remote.sharedVideo('ls1', 'h1', 15, 'composite'), null);
      const bad = await fetch(
        `${api.url}/node/v1/livestreams/ls1/hosts/h1/shared-video?fps=15&reader=x`,
        {
          headers: { Authorization: 'Bearer s3cret' },
        },
      );
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /reader must be composite or host/);
    } finally {
      await api.close();
      await ingest.close?.();
    }
  },
);
