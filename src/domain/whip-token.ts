import { createHmac, timingSafeEqual } from 'node:crypto';
import { assertId, isValidId } from './ids.ts';

/**
 * Bearer tokens for WHIP publishers: one livestream, one host, one expiry, signed
 * with a secret the platform backend shares with us, so no token store is needed.
 * Format: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part)).
 */
export interface WhipTokenClaims {
  livestreamId: string;
  hostId: string;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
}

export type WhipTokenErrorCode = 'malformed' | 'bad-signature' | 'expired';

export class WhipTokenError extends Error {
  override name = 'WhipTokenError';
  constructor(
    readonly code: WhipTokenErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// Long enough for any claims we issue, short enough that a hostile header costs nothing.
const MAX_TOKEN_LENGTH = 1024;
const PART = /^[A-Za-z0-9_-]+$/;

function sign(secret: string | Buffer, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

function assertSecret(secret: string | Buffer): void {
  if (secret.length < 16) throw new RangeError('token secret must be at least 16 bytes');
}

export function issueToken(secret: string | Buffer, claims: WhipTokenClaims): string {
  assertSecret(secret);
  assertId('livestreamId', claims.livestreamId);
  assertId('hostId', claims.hostId);
  if (!Number.isSafeInteger(claims.expiresAt)) throw new RangeError('expiresAt must be integer ms');
  const body = { v: 1, l: claims.livestreamId, h: claims.hostId, e: claims.expiresAt };
  const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  return `${payload}.${sign(secret, payload).toString('base64url')}`;
}

export function verifyToken(
  secret: string | Buffer,
  token: string,
  now: number = Date.now(),
): WhipTokenClaims {
  assertSecret(secret);
  const malformed = (why: string) => new WhipTokenError('malformed', `malformed token: ${why}`);
  if (token.length > MAX_TOKEN_LENGTH) throw malformed('too long');
  const parts = token.split('.');
  if (parts.length !== 2) throw malformed('expected payload.signature');
  const [payload, signature] = parts as [string, string];
  if (!PART.test(payload) || !PART.test(signature)) throw malformed('not base64url');

  // Check the signature before looking inside, so unsigned input is never interpreted.
  const expected = sign(secret, payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new WhipTokenError('bad-signature', 'token signature does not match');

  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw malformed('payload is not JSON');
  }
  if (typeof body !== 'object' || body === null) throw malformed('payload is not an object');
  const { v, l, h, e } = body as Record<string, unknown>;
  if (v !== 1) throw malformed('unknown version');
  if (!isValidId(l) || !isValidId(h)) throw malformed('ids are not valid');
  if (typeof e !== 'number' || !Number.isSafeInteger(e)) throw malformed('expiry is not a number');
  if (now >= e) throw new WhipTokenError('expired', 'token has expired');
  return { livestreamId: l, hostId: h, expiresAt: e };
}
