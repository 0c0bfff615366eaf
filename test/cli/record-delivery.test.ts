import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { tapedeckInBackground } from '../support/background.ts';
import { s3Env } from '../support/delivery-checks.ts';
import { startPubSubEmulator, type PubSubEmulator } from '../support/pubsub-emulator.ts';
import { freeTcpPort } from '../../src/support/free-port.ts';
import { lastJsonLine, tapedeck, tempDir } from '../support/tapedeck.ts';
import { startVersityGw, type VersityGw } from '../support/versitygw.ts';

const dirs: string[] = [];
let gw: VersityGw;
let pubsub: PubSubEmulator;
before(async () => {
  [gw, pubsub] = await Promise.all([startVersityGw({ bucket: 'cli' }), startPubSubEmulator()]);
});
after(async () => {
  await Promise.allSettled([gw?.close(), pubsub?.dispose()]);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function refused(args: string[], message: RegExp, env?: NodeJS.ProcessEnv): Promise<string> {
  const out = await tempDir('refused');
  dirs.push(out);
  const r = await tapedeck(
    ['record', '--out', out, '--duration', '3', '--kind', 'audio', ...args],
    {
      timeoutMs: 60_000,
      ...(env ? { env: { ...process.env, ...env } } : {}),
    },
  );
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  const left = await readdir(out);
  assert.ok(
    !left.includes('spool') && !left.includes('store'),
    `nothing recorded: ${left.join(', ')}`,
  );
  return r.stderr;
}

for (const [name, id] of [
  ['".."', '..'],
  ['a slash', 'a/b'],
  ['65 characters', 'x'.repeat(65)],
  ['a space', 'a b'],
] as const)
  test(`a livestream id with ${name} is refused`, { timeout: 70_000 }, async () => {
    await refused(
      ['--livestream', id],
      /--livestream ".*" is not a valid id: use 1 to 64 characters/,
    );
  });

test(
  'store and bus URLs that mean nothing are refused with what to write instead',
  { timeout: 70_000 },
  async () => {
    await refused(['--store', 'ftp://host/x'], /--store: .*(file:\/\/|s3:\/\/)/);
    await refused(
      ['--bus', 'kafka://127.0.0.1:9092'],
      /--bus: .*embedded, nats:\/\/HOST:PORT or pubsub:\/\/PROJECT\/TOPIC/,
    );
  },
);

test(
  'wrong S3 credentials fail at start with a clear message, before anything is recorded',
  { timeout: 70_000 },
  async () => {
    const stderr = await refused(
      ['--store', `s3://${gw.bucket}/x`],
      /cannot use the store s3:\/\/cli\/x\/.*credentials/i,
      {
        ...s3Env(gw),
        AWS_SECRET_ACCESS_KEY: 'not-the-secret',
      },
    );
    assert.doesNotMatch(stderr, /not-the-secret/, 'the secret is never printed');
    await refused(
      ['--store', `s3://no-such-bucket/x`],
      /cannot use the store .*no-such-bucket.*does not exist/,
      s3Env(gw),
    );
  },
);

test('an unreachable store or broker fails at start, naming it', { timeout: 70_000 }, async () => {
  const port = await freeTcpPort();
  await refused(['--store', 's3://cli/x'], /cannot use the store .*cannot reach/, {
    ...s3Env(gw),
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
  });
  await refused(
    ['--bus', `nats://127.0.0.1:${port}`],
    /cannot use the bus nats:\/\/127\.0\.0\.1:\d+: .*cannot reach/,
  );
});

test(
  'recording with the Pub/Sub emulator as the bus: events tail prints one event per snippet',
  { timeout: 180_000 },
  async () => {
    const out = await tempDir('pubsub');
    dirs.push(out);
    const env = { ...process.env, PUBSUB_EMULATOR_HOST: `${pubsub.host}:${pubsub.port}` };
    const bus = 'pubsub://tapedeck-test/snippets';
    const r = await tapedeck(
      [
        'record',
        '--out',
        out,
        '--kind',
        'audio',
        '--duration',
        '8',
        '--snippet-seconds',
        '3',
        '--livestream',
        'ps',
        '--bus',
        bus,
        '--json',
      ],
      { timeoutMs: 120_000, env },
    );
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const summary = lastJsonLine<{
      snippets: { key: string; eventId: string; durationSec: number }[];
      eventsPending: number;
    }>(r.stdout);
    assert.equal(summary.eventsPending, 0);
    // 8 s in 3-s snippets: 3, 3 and 2 s. A stop that reaches a loaded machine's media worker more
    // than a second late adds a short fourth (CI saw one); every snippet still has its event.
    const count = summary.snippets.length;
    const seconds = summary.snippets.reduce((sum, s) => sum + s.durationSec, 0);
    assert.ok(count === 3 || count === 4, `${count} snippets: ${JSON.stringify(summary.snippets)}`);
    assert.ok(seconds >= 7.9, `the snippets hold ${seconds} s of the 8 recorded`);
    const tail = await tapedeck(
      [
        'events',
        'tail',
        '--bus',
        bus,
        '--from-start',
        '--count',
        String(count),
        '--timeout',
        '60',
        '--json',
      ],
      {
        timeoutMs: 90_000,
        env,
      },
    );
    assert.equal(tail.code, 0, tail.stderr);
    const events = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; data: { key: string } });
    assert.deepEqual(
      events.map((e) => e.data.key).sort(),
      summary.snippets.map((s) => s.key).sort(),
    );
    assert.deepEqual(events.map((e) => e.id).sort(), summary.snippets.map((s) => s.eventId).sort());
  },
);

test(
  'snippets list finds a time range by key order, and snippets get streams one back, checksum intact',
  { timeout: 180_000 },
  async () => {
    const out = await tempDir('list-get');
    dirs.push(out);
    const env = { ...process.env, ...s3Env(gw) };
    const store = `s3://${gw.bucket}/lg`;
    const r = await tapedeck(
      [
        'record',
        '--out',
        out,
        '--kind',
        'audio',
        '--duration',
        '10',
        '--snippet-seconds',
        '3',
        '--livestream',
        'lg',
        '--store',
        store,
        '--json',
      ],
      { timeoutMs: 120_000, env },
    );
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const { snippets } = lastJsonLine<{
      snippets: { key: string; sha256: string; start: string; end: string }[];
    }>(r.stdout);
    assert.equal(snippets.length, 4);
    // A range from inside the second snippet to inside the third overlaps exactly those two.
    const from = new Date(Date.parse(snippets[1]!.start) + 1000).toISOString();
    const to = new Date(Date.parse(snippets[2]!.start) + 1000).toISOString();
    const list = await tapedeck(
      [
        'snippets',
        'list',
        '--store',
        store,
        '--livestream',
        'lg',
        '--track',
        'host-h1',
        '--from',
        from,
        '--to',
        to,
        '--json',
      ],
      { env },
    );
    assert.equal(list.code, 0, list.stderr);
    const listed = list.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { key: string }).key);
    assert.deepEqual(listed, [snippets[1]!.key, snippets[2]!.key]);
    const all = await tapedeck(
      ['snippets', 'list', '--store', store, '--livestream', 'lg', '--json'],
      { env },
    );
    assert.equal(all.stdout.trim().split('\n').length, 4);

    const file = `${out}/got.mp3`;
    const got = await tapedeck(
      ['snippets', 'get', snippets[2]!.key, '--store', store, '--file', file],
      { env },
    );
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stderr, new RegExp(`sha256 ${snippets[2]!.sha256}`));
    const bytes = await readFile(file);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), snippets[2]!.sha256);
    const missing = await tapedeck(
      ['snippets', 'get', snippets[2]!.key.replace(/_\d{6}/, '_000099'), '--store', store],
      { env },
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /is not in s3:\/\/cli\/lg/);
  },
);

test(
  'with the store down, a full spool ends the recording (exit 1) and keeps every snippet for later',
  { timeout: 240_000 },
  async () => {
    const out = await tempDir('spool-full');
    dirs.push(out);
    const rec = tapedeckInBackground(
      [
        'record',
        '--out',
        out,
        '--kind',
        'host',
        '--pattern',
        'noise',
        '--duration',
        '60',
        '--snippet-seconds',
        '3',
        '--livestream',
        'full',
        '--store',
        `s3://${gw.bucket}/full`,
        '--spool-limit-mb',
        '4',
        '--json',
      ],
      s3Env(gw),
    );
    try {
      await rec.waitFor(/delivered full\/host-h1\/mp4\/\S+_000000\.mp4/, 90_000);
      await gw.stop();
      await rec.waitFor(/the spool holds \d+ MB \(limit 4 MB\): stopping the recording/, 90_000);
    } finally {
      await gw.restart();
    }
    const r = await rec.done;
    assert.equal(r.code, 1, r.stderr.slice(-2000));
    const summary = lastJsonLine<{
      spoolFull: boolean;
      stoppedEarly: boolean;
      snippetsPending: number;
      snippets: { seq: number }[];
    }>(r.stdout);
    assert.equal(summary.spoolFull, true);
    assert.equal(summary.stoppedEarly, true);
    assert.equal(
      summary.snippetsPending,
      0,
      'everything captured was delivered once the store was back',
    );
    assert.deepEqual(
      summary.snippets.map((s) => s.seq),
      [...summary.snippets.keys()],
    );
    assert.ok(
      summary.snippets.length >= 3 && summary.snippets.length < 20,
      `${summary.snippets.length} snippets`,
    );
  },
);

test(
  'tapedeck deliver finishes what a killed recording left, without recording anything',
  { timeout: 240_000 },
  async () => {
    const out = await tempDir('deliver');
    dirs.push(out);
    const env = s3Env(gw);
    const store = `s3://${gw.bucket}/dl`;
    const rec = tapedeckInBackground(
      [
        'record',
        '--out',
        out,
        '--kind',
        'host',
        '--duration',
        '60',
        '--snippet-seconds',
        '3',
        '--livestream',
        'dl',
        '--store',
        store,
      ],
      env,
    );
    await rec.waitFor(/delivered dl\/host-h1\/mp4\/\S+_000001\.mp4/, 90_000);
    await gw.stop(); // so the next snippets stay in the spool
    await new Promise((r) => setTimeout(r, 4500));
    process.kill(rec.child.pid!, 'SIGKILL');
    await rec.done;
    await gw.restart();
    const r = await tapedeck(['deliver', '--out', out, '--store', store, '--json'], {
      timeoutMs: 120_000,
      env: { ...process.env, ...env },
    });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const summary = lastJsonLine<{
      delivered: string[];
      snippetsPending: number;
      eventsPending: number;
    }>(r.stdout);
    assert.ok(summary.delivered.length >= 1, r.stderr);
    assert.equal(summary.snippetsPending, 0);
    assert.equal(summary.eventsPending, 0);
    assert.match(
      r.stderr,
      /\(recovered after a crash\)/,
      'the snippet the kill cut short is delivered too',
    );
    const list = await tapedeck(
      ['snippets', 'list', '--store', store, '--livestream', 'dl', '--json'],
      { env: { ...process.env, ...env } },
    );
    const seqs = list.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.deepEqual(seqs, [...seqs.keys()], 'every snippet from 0 on, none missing, none twice');
    const again = await tapedeck(['deliver', '--out', out, '--store', store, '--json'], {
      timeoutMs: 60_000,
      env: { ...process.env, ...env },
    });
    assert.equal(again.code, 0);
    assert.deepEqual(
      lastJsonLine<{ delivered: string[] }>(again.stdout).delivered,
      [],
      'a second run finds nothing to do',
    );
  },
);
