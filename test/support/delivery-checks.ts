import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { MessageBus } from '../../src/delivery/bus/port.ts';
import type { CloudEvent } from '../../src/domain/cloudevent.ts';
import { assertSnippetReady, type SnippetReady } from '../../src/domain/snippet-event.ts';
import type { VersityGw } from './versitygw.ts';

/** An independent S3 client (not tapedeck's adapter) to look at what really is in the bucket. */
export function s3Client(gw: VersityGw): S3Client {
  return new S3Client({
    endpoint: gw.endpoint,
    region: gw.region,
    forcePathStyle: true,
    credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey },
  });
}

export function s3Env(gw: VersityGw): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL: gw.endpoint,
    AWS_ACCESS_KEY_ID: gw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: gw.secretAccessKey,
    AWS_REGION: gw.region,
  };
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

export async function objectSha256(s3: S3Client, bucket: string, key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = await res.Body!.transformToByteArray();
  return createHash('sha256').update(bytes).digest('hex');
}

export interface CollectedEvents {
  /** Every delivery, duplicates included. */
  raw: CloudEvent<SnippetReady>[];
  /** One per id, in arrival order: what a deduplicating consumer processes. */
  unique: Map<string, CloudEvent<SnippetReady>>;
}

/**
 * A consumer as moderation would run one: validates each event, deduplicates by id, acks. Reads
 * from the start of the retained events, so it sees everything, whenever it subscribes.
 */
export async function collectEvents(
  bus: MessageBus,
  name: string,
  until: (c: CollectedEvents) => boolean,
  timeoutMs: number,
): Promise<CollectedEvents> {
  const c: CollectedEvents = { raw: [], unique: new Map() };
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const sub = await bus.subscribe(
    { name, startAt: 'earliest', typePrefix: 'tapedeck.snippet' },
    async (d) => {
      assertSnippetReady(d.event);
      c.raw.push(d.event);
      if (!c.unique.has(d.event.id)) c.unique.set(d.event.id, d.event);
      await d.ack();
      if (until(c)) resolveDone();
    },
  );
  const timer = setTimeout(resolveDone, timeoutMs);
  await done;
  clearTimeout(timer);
  // A short grace: duplicates, if any, would arrive right behind.
  await new Promise((r) => setTimeout(r, 1500));
  await sub.close();
  return c;
}
