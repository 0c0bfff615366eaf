import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';

import { FsStore } from '../../../src/delivery/store/fs-store.ts';
import { openStore } from '../../../src/delivery/store/open.ts';
import { StoreError } from '../../../src/delivery/store/port.ts';
import { S3Store } from '../../../src/delivery/store/s3-store.ts';

const CREDS = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'very-secret-value' };

function refused(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, String(err));
    assert.equal(err.retryable, false);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /very-secret-value/);
    return true;
  };
}

describe('openStore', { timeout: 10_000 }, () => {
  test('file:///absolute names an absolute folder', { timeout: 5_000 }, () => {
    const store = openStore('file:///var/lib/tapedeck/store', {});
    assert.ok(store instanceof FsStore);
    assert.equal(store.root, '/var/lib/tapedeck/store');
    assert.equal(store.describe, 'file:///var/lib/tapedeck/store');
  });

  test('file://./rel and file://rel are relative to the working folder', { timeout: 5_000 }, () => {
    for (const [url, path] of [
      ['file://./data/store', 'data/store'],
      ['file://data/store', 'data/store'],
      ['file://../shared', '../shared'],
    ] as const) {
      const store = openStore(url, {});
      assert.ok(store instanceof FsStore, url);
      assert.equal(store.root, resolve(path));
    }
  });

  test('file URLs decode %-escapes', { timeout: 5_000 }, () => {
    const store = openStore('file:///tmp/with%20space', {});
    assert.ok(store instanceof FsStore);
    assert.equal(store.root, '/tmp/with space');
  });

  test(
    's3://bucket/prefix takes endpoint, credentials and region from the environment',
    { timeout: 5_000 },
    () => {
      const store = openStore('s3://recordings/tapedeck/prod', {
        ...CREDS,
        AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7070',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9999',
        AWS_REGION: 'eu-west-1',
      });
      assert.ok(store instanceof S3Store);
      assert.equal(store.bucket, 'recordings');
      assert.equal(store.prefix, 'tapedeck/prod/');
      assert.equal(store.region, 'eu-west-1');
      assert.equal(store.endpoint, 'http://127.0.0.1:7070');
      assert.equal(store.describe, 's3://recordings/tapedeck/prod/ at http://127.0.0.1:7070');
      assert.doesNotMatch(store.describe, /AKIDEXAMPLE|very-secret-value/);
    },
  );

  test(
    's3 falls back to AWS_ENDPOINT_URL and us-east-1; the prefix may be empty',
    { timeout: 5_000 },
    () => {
      for (const url of ['s3://recordings', 's3://recordings/']) {
        const store = openStore(url, { ...CREDS, AWS_ENDPOINT_URL: 'http://127.0.0.1:9999' });
        assert.ok(store instanceof S3Store);
        assert.equal(store.prefix, '');
        assert.equal(store.region, 'us-east-1');
        assert.equal(store.endpoint, 'http://127.0.0.1:9999');
      }
    },
  );

  test(
    's3 without credentials in the environment leaves them to the SDK chain',
    { timeout: 5_000 },
    () => {
      const store = openStore('s3://recordings/x', {});
      assert.ok(store instanceof S3Store);
      assert.equal(store.endpoint, undefined);
      assert.equal(store.describe, 's3://recordings/x/');
    },
  );

  test('refuses what it cannot open, saying what to write instead', { timeout: 5_000 }, () => {
    const cases: [string, RegExp][] = [
      ['', /no store URL given.*file:\/\/\//],
      ['/var/lib/store', /no scheme.*file:\/\/\/var\/lib\/store/],
      ['data/store', /no scheme.*file:\/\/\.\/data\/store/],
      ['./data', /no scheme.*file:\/\/\.\/data/],
      ['file:/var/lib', /needs "\/\/"/],
      ['file://', /names no folder/],
      ['http://127.0.0.1:7070/bucket', /AWS_ENDPOINT_URL_S3/],
      ['gs://bucket/x', /scheme "gs:" is not supported.*s3:\/\/bucket/],
      ['s3://', /no valid bucket name/],
      ['s3://Bad_Bucket/x', /no valid bucket name/],
      ['s3://key:very-secret-value@bucket/x', /carries credentials/],
      ['s3://bucket/a//b', /empty segment/],
      ['s3://bucket/../x', /starting with "."/],
      ['file:///tmp/%zz', /%-escape/],
    ];
    for (const [url, pattern] of cases)
      assert.throws(() => openStore(url, CREDS), refused(pattern), url);
  });

  test('refuses half-set credentials and odd endpoints', { timeout: 5_000 }, () => {
    assert.throws(
      () => openStore('s3://bucket/x', { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE' }),
      refused(/both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/),
    );
    assert.throws(
      () => openStore('s3://bucket/x', { ...CREDS, AWS_ENDPOINT_URL_S3: 'localhost:7070' }),
      refused(/http:\/\/ or https:\/\//),
    );
    assert.throws(
      () => openStore('s3://bucket/x', { ...CREDS, AWS_ENDPOINT_URL_S3: 'not a url' }),
      refused(/not a URL/),
    );
    assert.throws(
      () =>
        openStore('s3://bucket/x', {
          ...CREDS,
          AWS_ENDPOINT_URL_S3: 'http://u:very-secret-value@127.0.0.1:7070',
        }),
      refused(/must not carry credentials/),
    );
  });
});
