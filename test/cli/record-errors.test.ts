import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { tapedeck, tempDir } from '../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const cases: [string, string[], RegExp][] = [
  ['unknown kind', ['--kind', 'video'], /--kind must be one of composite, host, audio/],
  ['zero inputs', ['--inputs', '0'], /--inputs must be a whole number from 1 to 9/],
  ['50 inputs', ['--inputs', '50'], /--inputs must be a whole number from 1 to 9/],
  [
    'two inputs for a host',
    ['--kind', 'host', '--inputs', '2'],
    /--inputs must be a whole number from 1 to 1/,
  ],
  ['odd canvas', ['--canvas', '361x640'], /odd: H.264 with 4:2:0 chroma needs even sizes/],
  ['malformed canvas', ['--canvas', 'big'], /not WIDTHxHEIGHT/],
  [
    'RTMP URL of another scheme',
    ['--rtmp', 'http://127.0.0.1/live/x'],
    /is not rtmp:\/\/HOST\[:PORT\]\/APP\/STREAM/,
  ],
  ['bad timeline', ['--timeline', '5:explode:1'], /action must be one of/],
  ['unknown option', ['--colour', 'red'], /Unknown option '--colour'/],
  ['negative duration', ['--duration=-5'], /--duration must be a number/],
];

for (const [name, args, message] of cases) {
  test(
    `bad input: ${name} gives a clear error and records nothing`,
    { timeout: 60_000 },
    async () => {
      const out = await tempDir('bad');
      dirs.push(out);
      const r = await tapedeck(['record', '--out', out, '--duration', '3', ...args], {
        timeoutMs: 50_000,
      });
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Run "tapedeck record --help" for usage/);
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
      assert.deepEqual(await readdir(out), []);
    },
  );
}

test(
  'bad input: a folder that cannot be written is refused before recording',
  { timeout: 60_000 },
  async () => {
    const r = await tapedeck(['record', '--out', '/dev/null/snippets', '--duration', '3'], {
      timeoutMs: 50_000,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot write snippets to \/dev\/null\/snippets \(ENOTDIR\)/);
  },
);

test('--help teaches every option with an example', { timeout: 60_000 }, async () => {
  const top = await tapedeck(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /record\s+record synthetic hosts/);
  const help = await tapedeck(['record', '--help']);
  assert.equal(help.code, 0);
  for (const option of [
    '--kind',
    '--inputs',
    '--duration',
    '--out',
    '--canvas',
    '--rtmp',
    '--hls',
    '--timeline',
    'Examples:',
  ])
    assert.ok(help.stdout.includes(option), option);
  const unknown = await tapedeck(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});
