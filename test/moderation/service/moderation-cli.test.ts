import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tapedeckInBackground, type Background } from '../../support/background.ts';
import { freeTcpPort } from '../../../src/support/free-port.ts';
import { tapedeck, tempDir } from '../../support/tapedeck.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test('moderation --help teaches how tokens are given', { timeout: 60_000 }, async () => {
  const r = await tapedeck(['moderation', '--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const text of ['moderation serve', 'TAPEDECK_MODERATION_TOKENS', '--tokens-file', '--store'])
    assert.ok(r.stdout.includes(text), text);

  const wrong = await tapedeck(['moderation', 'serve', '--data', '/tmp/x'], {
    env: { ...process.env, TAPEDECK_MODERATION_TOKENS: 'alice=short' },
  });
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /at least 16 printable characters/);
});

test(
  'moderation serve answers with the tokens of a tokens file and stops on SIGTERM',
  { timeout: 60_000 },
  async () => {
    const dir = await tempDir('moderation-cli');
    dirs.push(dir);
    const tokensFile = join(dir, 'tokens.json');
    await writeFile(
      tokensFile,
      JSON.stringify({
        reviewers: { carol: 'carol-token-0123456789' },
        services: { escalation: 'escalation-token-0123456789' },
      }),
    );
    const port = await freeTcpPort();
    let serve: Background | undefined;
    try {
      serve = tapedeckInBackground([
        'moderation',
        'serve',
        '--data',
        join(dir, 'data'),
        '--port',
        String(port),
        '--tokens-file',
        tokensFile,
      ]);
      await serve.waitFor(/Ctrl-C stops/, 30_000);
      assert.match(
        serve.stdout(),
        new RegExp(`http://127\\.0\\.0\\.1:${port}/ +log in as "carol"`),
      );
      const me = await fetch(`http://127.0.0.1:${port}/v1/me`, {
        headers: { Authorization: 'Bearer escalation-token-0123456789' },
      });
      assert.deepEqual(await me.json(), { name: 'escalation', kind: 'service' });
      await serve.stop('SIGTERM');
      assert.equal((await serve.done).code, 0);
    } finally {
      await serve?.stop('SIGKILL');
    }
  },
);
