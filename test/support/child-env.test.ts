import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { MediaWorker } from '../../src/media/media-worker.ts';
import { MeasuringProcess } from '../../src/moderation/measuring-process.ts';
import { envWithoutNodeTls } from '../../src/support/child-env.ts';

const environOf = (pid: number): Map<string, string> =>
  new Map(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

test('the environment of a child without TLS keeps everything but NODE_EXTRA_CA_CERTS', () => {
  const env = { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca.crt', GST_DEBUG: '2' };
  assert.deepEqual(envWithoutNodeTls(env), { PATH: '/bin', GST_DEBUG: '2' });
  assert.equal(env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca.crt', 'the caller keeps its own');
  assert.deepEqual(envWithoutNodeTls({ PATH: '/bin' }), { PATH: '/bin' });
});

test(
  'media workers and the measuring process start without the extra CA certificates',
  { timeout: 60_000 },
  async () => {
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    process.env.NODE_EXTRA_CA_CERTS = '/etc/ssl/certs/ca-certificates.crt';
    process.env.TAPEDECK_CHILD_ENV_MARK = 'inherited';
    const worker = new MediaWorker();
    const measuring = new MeasuringProcess();
    try {
      await worker.ready;
      await measuring.run('audiotestsrc num-buffers=1 ! fakesink', 30_000);
      for (const pid of [worker.pid, measuring.pid()]) {
        assert.ok(pid, 'the child runs');
        const env = environOf(pid);
        assert.equal(env.get('TAPEDECK_CHILD_ENV_MARK'), 'inherited');
        assert.equal(env.has('NODE_EXTRA_CA_CERTS'), false, `pid ${pid} has the CA certificates`);
      }
    } finally {
      // process.env itself stays: a plain object put in its place would not turn values to text.
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
      delete process.env.TAPEDECK_CHILD_ENV_MARK;
      measuring.close();
      await worker.close();
    }
  },
);
