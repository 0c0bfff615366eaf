import { resolve } from 'node:path';

import { FsStore } from './fs-store.ts';
import { StoreError, type ObjectStore } from './port.ts';
import { S3Store } from './s3-store.ts';

const EXAMPLES =
  'write file:///absolute/folder, file://./relative/folder or s3://bucket/optional/prefix';

/** S3's bucket naming rules (the subset every S3-compatible server accepts). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function refuse(message: string): never {
  throw new StoreError(message, false);
}

/** Store URLs may be pasted with credentials in them; error messages must not repeat those. */
function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

function decode(text: string, url: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return refuse(`store URL ${redact(url)} has a broken %-escape; write a literal "%" as %25`);
  }
}

function openFile(url: string, rest: string): ObjectStore {
  const path = decode(rest, url);
  if (path === '') refuse(`store URL ${redact(url)} names no folder; ${EXAMPLES}`);
  if (path.includes('\0')) refuse(`store URL ${redact(url)} contains a NUL character`);
  // file://./data and file://data are relative to the working folder; file:///data is absolute.
  return new FsStore(resolve(path));
}

function openS3(url: string, rest: string, env: NodeJS.ProcessEnv): ObjectStore {
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = decode(slash < 0 ? '' : rest.slice(slash + 1), url);
  if (bucket.includes('@') || bucket.includes(':'))
    refuse(
      `store URL ${redact(url)} carries credentials or a port; put credentials in ` +
        'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and the server in AWS_ENDPOINT_URL_S3',
    );
  if (!BUCKET.test(bucket))
    refuse(
      `store URL ${redact(url)} has no valid bucket name ("${bucket}"): use 3 to 63 characters ` +
        `of a-z, 0-9, "." and "-", e.g. s3://recordings/tapedeck`,
    );
  if (prefix.split('/').some((s, i, all) => (s === '' && i < all.length - 1) || s.startsWith('.')))
    refuse(
      `store URL ${redact(url)} has a prefix with an empty segment or one starting with "."; ` +
        'write e.g. s3://bucket/tapedeck/prod',
    );

  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey))
    refuse(
      'set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (to use the AWS default ' +
        'credential chain: profiles, instance roles)',
    );
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  if (endpoint !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(endpoint);
    } catch {
      return refuse(
        `AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL is not a URL; write e.g. http://127.0.0.1:7070`,
      );
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      refuse(`the S3 endpoint must be http:// or https://, e.g. http://127.0.0.1:7070`);
    if (parsed.username || parsed.password)
      refuse(
        'the S3 endpoint URL must not carry credentials; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
      );
  }
  return new S3Store({
    bucket,
    prefix,
    region: env.AWS_REGION || 'us-east-1',
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  });
}

/**
 * Opens the store a URL names:
 * - `file:///abs/folder`, `file://./rel/folder` or `file://rel/folder` (relative to the
 *   working folder; %-escapes are decoded);
 * - `s3://bucket/prefix`, with AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for S3-compatible
 *   servers (path-style then), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the SDK's
 *   default chain when both are unset) and AWS_REGION (default us-east-1).
 * Nothing touches the network or disk here; call check() for that.
 */
export function openStore(url: string, env: NodeJS.ProcessEnv = process.env): ObjectStore {
  if (typeof url !== 'string' || url.trim() === '') refuse(`no store URL given; ${EXAMPLES}`);
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/s.exec(url);
  const scheme = m?.[1]?.toLowerCase();
  const afterScheme = m?.[2] ?? '';
  if (scheme === 'file' || scheme === 's3') {
    if (!afterScheme.startsWith('//'))
      refuse(`store URL ${redact(url)} needs "//" after "${scheme}:"; ${EXAMPLES}`);
    const rest = afterScheme.slice(2);
    return scheme === 'file' ? openFile(url, rest) : openS3(url, rest, env);
  }
  if (m === null || url.startsWith('/') || url.startsWith('.'))
    refuse(
      `store URL ${redact(url)} has no scheme; for a folder write file://${url.startsWith('/') ? '' : './'}${url.replace(/^\.\//, '')}`,
    );
  if (scheme === 'http' || scheme === 'https')
    refuse(
      `store URL ${redact(url)} is an HTTP address; for an S3-compatible server write ` +
        's3://bucket/prefix and set AWS_ENDPOINT_URL_S3 to the server address',
    );
  return refuse(`store URL scheme "${scheme}:" is not supported; ${EXAMPLES}`);
}
