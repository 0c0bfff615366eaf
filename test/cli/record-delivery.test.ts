import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { s3Env } from '../support/delivery-checks.ts';
import { startPubSubEmulator, type PubSubEmulator } from '../support/pubsub-emulator.ts';
import { freePort } from '../support/ports.ts';
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
  const port = await freePort();
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
      snippets: { key: string; eventId: string }[];
      eventsPending: number;
    }>(r.stdout);
    assert.equal(summary.eventsPending, 0);
    assert.equal(summary.snippets.length, 3);
    const tail = await tapedeck(
      ['events', 'tail', '--bus', bus, '--from-start', '--count', '3', '--timeout', '60', '--json'],
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
