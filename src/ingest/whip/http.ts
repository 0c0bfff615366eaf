import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';

/** How long an unread request body is drained after we answered, before the socket is cut. */
const DRAIN_GRACE_MS = 2_000;

/**
 * Ends the response with an RFC 9457 problem body. When the request body was not
 * read (early refusal, or over the limit), Node drains it so the client can read
 * our answer instead of seeing a reset; a client that keeps sending is cut off.
 */
export function sendProblem(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  detail: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
  });
  send(req, res, status, { ...headers, 'Content-Type': 'application/problem+json' }, body);
}

export function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body?: string,
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    ...headers,
    ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}),
  });
  res.end(body);
  if (!req.complete) {
    const timer = setTimeout(() => req.socket.destroy(), DRAIN_GRACE_MS);
    timer.unref();
    req.once('end', () => clearTimeout(timer));
    req.once('close', () => clearTimeout(timer));
  }
}

export type BodyResult =
  { ok: true; body: string } | { ok: false; reason: 'too-large' | 'aborted' };

/** Reads the body up to `limit` bytes; past that it stops keeping bytes and says so. */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit)
    return Promise.resolve({ ok: false, reason: 'too-large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyResult) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      chunks.length = 0;
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish({ ok: false, reason: 'too-large' });
      else chunks.push(chunk);
    };
    const onEnd = () => {
      const body = Buffer.concat(chunks).toString('utf8');
      finish({ ok: true, body });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', () => finish({ ok: false, reason: 'aborted' }));
    req.on('close', () => finish({ ok: false, reason: 'aborted' }));
  });
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer +([^\s]+) *$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

export function isSdpContentType(req: IncomingMessage): boolean {
  const ct = req.headers['content-type'];
  if (ct === undefined) return false;
  return ct.split(';')[0]?.trim().toLowerCase() === 'application/sdp';
}
