import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_HISTORY_LIMIT, startNode } from '../../src/node/node.ts';
import { startNodeRig } from './node-rig.ts';

test(
  'control API: bad keys, JSON, ids and unknown livestreams get clear 4xx answers and change nothing',
  { timeout: 180_000 },
  async () => {
    const rig = await startNodeRig('orch-api-', { workers: 1, maxLivestreams: 1 });
    const bad: {
      why: string;
      method: string;
      path: string;
      body?: unknown;
      key?: string;
      status: number;
      detail?: RegExp;
    }[] = [
      { why: 'no key', method: 'POST', path: '/v1/livestreams', body: {}, key: '', status: 401 },
      {
        why: 'wrong key',
        method: 'POST',
        path: '/v1/livestreams',
        body: {},
        key: 'x'.repeat(32),
        status: 401,
      },
      {
        why: 'wrong key on a read',
        method: 'GET',
        path: '/v1/livestreams/show',
        key: 'nope',
        status: 401,
      },
      {
        why: 'bad JSON',
        method: 'POST',
        path: '/v1/livestreams',
        body: '{"hosts": [',
        status: 400,
        detail: /not valid JSON/,
      },
      {
        why: 'unknown field',
        method: 'POST',
        path: '/v1/livestreams',
        body: { hostz: 2 },
        status: 400,
        detail: /unknown field/,
      },
      {
        why: 'invalid livestream id',
        method: 'POST',
        path: '/v1/livestreams',
        body: { livestreamId: 'a b' },
        status: 400,
        detail: /livestreamId/,
      },
      {
        why: 'invalid host id',
        method: 'POST',
        path: '/v1/livestreams',
        body: { hosts: ['ok', '../x'] },
        status: 400,
        detail: /hosts\[1\]/,
      },
      {
        why: 'too many hosts',
        method: 'POST',
        path: '/v1/livestreams',
        body: { hostCount: 99 },
        status: 400,
      },
      { why: 'invalid id in the path', method: 'GET', path: '/v1/livestreams/a%20b', status: 400 },
      { why: 'unknown livestream', method: 'GET', path: '/v1/livestreams/nosuch', status: 404 },
      {
        why: 'stop an unknown livestream',
        method: 'POST',
        path: '/v1/livestreams/nosuch/stop',
        status: 404,
      },
      {
        why: 'event for an unknown livestream',
        method: 'POST',
        path: '/v1/livestreams/nosuch/hosts/ana/events',
        body: { event: 'camera-off' },
        status: 404,
      },
      {
        why: 'snippets of an unknown livestream',
        method: 'GET',
        path: '/v1/livestreams/nosuch/snippets',
        status: 404,
      },
      { why: 'not part of the API', method: 'DELETE', path: '/v1/livestreams', status: 405 },
    ];
    for (const b of bad) {
      const r = await rig.api(b.method, b.path, b.body, b.key);
      assert.equal(r.status, b.status, `${b.why}: ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body?.detail, 'string', `${b.why}: a problem document`);
      if (b.detail) assert.match(r.body.detail, b.detail, b.why);
    }
    // Wrong content type, sent by hand.
    const text = await fetch(`${rig.node.apiUrl}/v1/livestreams`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${rig.node.apiKey}`, 'Content-Type': 'text/plain' },
      body: '{}',
    });
    assert.equal(text.status, 400);
    assert.match(((await text.json()) as { detail: string }).detail, /application\/json/);

    // Nothing changed: no workflow was started and the ingest opened no livestream.
    const started: string[] = [];
    for await (const w of rig.node.client.workflow.list()) started.push(w.workflowId);
    assert.deepEqual(started, []);
    assert.equal(rig.node.ingest.hasLivestream('nosuch'), false);

    // A good request works, a second one with the same id conflicts, and its unknown host is 404.
    const made = await rig.api('POST', '/v1/livestreams', { livestreamId: 'show', hosts: ['ana'] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.match(made.body.hosts[0].whipUrl, /^http:\/\/127\.0\.0\.1:\d+\/whip\/show\/ana$/);
    assert.equal((await rig.api('POST', '/v1/livestreams', { livestreamId: 'show' })).status, 409);
    // At its limit the node refuses another livestream, and takes it once one stopped.
    const full = await rig.api('POST', '/v1/livestreams', { livestreamId: 'extra', hosts: ['a'] });
    assert.equal(full.status, 503, JSON.stringify(full.body));
    assert.match(full.body.detail, /at most 1 livestream/);
    assert.equal(rig.node.ingest.hasLivestream('extra'), false);
    const unknownHost = await rig.api('POST', '/v1/livestreams/show/hosts/bo/events', {
      event: 'camera-off',
    });
    assert.equal(unknownHost.status, 404);
    const badEvent = await rig.api('POST', '/v1/livestreams/show/hosts/ana/events', {
      event: 'dance',
    });
    assert.equal(badEvent.status, 400);
    // The livestream's workflow starts its composite recording a moment after it starts.
    let state = await rig.api('GET', '/v1/livestreams/show');
    for (let i = 0; i < 100 && state.body?.recordingWorkflows?.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      state = await rig.api('GET', '/v1/livestreams/show');
    }
    assert.equal(state.status, 200);
    assert.deepEqual(state.body.recordingWorkflows, ['tapedeck-livestream-show-composite']);

    // The OpenAPI document and the metrics need no key.
    const doc = await fetch(`${rig.node.apiUrl}/openapi.json`);
    assert.equal(doc.status, 200);
    const openapi = (await doc.json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(openapi.openapi, '3.1.0');
    assert.ok(openapi.paths['/v1/livestreams/{livestreamId}/hosts/{hostId}/events']);
    const metrics = await (await fetch(`${rig.node.apiUrl}/metrics`)).text();
    assert.match(metrics, /^tapedeck_livestreams_created_total 1$/m);

    assert.equal((await rig.api('POST', '/v1/livestreams/show/stop')).status, 202);
    const later = await rig.api('POST', '/v1/livestreams', { livestreamId: 'extra', hosts: ['a'] });
    assert.equal(later.status, 201, JSON.stringify(later.body));
  },
);

test('a node refuses a history limit under which its workflows would never settle', async () => {
  for (const historyLimit of [0, 7, 8.5])
    await assert.rejects(
      startNode({ dataDir: '/nonexistent/tapedeck-test', historyLimit }),
      new RegExp(
        `^RangeError: historyLimit must be a whole number of events, at least ${MIN_HISTORY_LIMIT} \\(got ${historyLimit}\\)$`,
      ),
    );
});
