import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Who may call the moderation service. Tokens are given as name → token; the name is what the
 * audit log records as the actor, so a token is never shared between two names.
 */
export interface ModerationTokens {
  /** People who decide reviews: they log in on the reviewer page or call the API. */
  reviewers?: Record<string, string>;
  /** Programs (escalation) that create and extend reviews through the API. */
  services?: Record<string, string>;
}

export type PrincipalKind = 'reviewer' | 'service';

export interface Principal {
  name: string;
  kind: PrincipalKind;
}

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
export const MIN_TOKEN_LENGTH = 16;
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

export class TokenConfigError extends Error {
  override name = 'TokenConfigError';
}

/** Every problem of a token configuration, as sentences; empty when it is usable. */
export function tokenProblems(tokens: ModerationTokens): string[] {
  const problems: string[] = [];
  const names = new Map<string, PrincipalKind>();
  const seen = new Map<string, string>();
  let count = 0;
  for (const kind of ['reviewer', 'service'] as const) {
    const group = kind === 'reviewer' ? tokens.reviewers : tokens.services;
    for (const [name, token] of Object.entries(group ?? {})) {
      count++;
      if (!NAME_PATTERN.test(name))
        problems.push(
          `${kind} name ${JSON.stringify(name)} must be 1 to 64 of A-Z a-z 0-9 _ . @ - (starting with a letter or digit)`,
        );
      if (names.has(name))
        problems.push(`the name ${name} is given twice; the audit log must tell actors apart`);
      names.set(name, kind);
      if (
        typeof token !== 'string' ||
        token.length < MIN_TOKEN_LENGTH ||
        !TOKEN_PATTERN.test(token)
      )
        problems.push(
          `the token of ${name} must be at least ${MIN_TOKEN_LENGTH} printable characters without spaces ` +
            '(e.g. from: openssl rand -base64 24)',
        );
      else if (seen.has(token))
        problems.push(`${name} and ${seen.get(token)} have the same token; give each its own`);
      else seen.set(token, name);
    }
  }
  if (count === 0) problems.push('no tokens are configured: nobody could use the service');
  return problems;
}

/**
 * Parses `name=token` pairs separated by commas or new lines; a name may carry a kind,
 * `service:escalation=…` or `reviewer:alice=…` (reviewer when none is given).
 */
export function parseTokenList(text: string): ModerationTokens {
  const tokens: Required<ModerationTokens> = { reviewers: {}, services: {} };
  for (const raw of text.split(/[,\n]/)) {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const eq = entry.indexOf('=');
    if (eq <= 0)
      throw new TokenConfigError(
        `token entry ${JSON.stringify(entry.slice(0, 20))}… is not name=token (e.g. alice=TOKEN or service:escalation=TOKEN)`,
      );
    const label = entry.slice(0, eq).trim();
    const token = entry.slice(eq + 1).trim();
    const m = /^(reviewer|service):(.*)$/.exec(label);
    const kind = m?.[1] ?? 'reviewer';
    const name = m ? m[2]! : label;
    const group = kind === 'service' ? tokens.services : tokens.reviewers;
    if (name in tokens.reviewers || name in tokens.services)
      throw new TokenConfigError(`the name ${name} is given twice`);
    group[name] = token;
  }
  return tokens;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

interface Session {
  principal: Principal;
  expires: number;
}

export interface AuthenticatorOptions {
  sessionTtlMs?: number;
  now?: () => number;
}

/**
 * Bearer tokens and page sessions. Tokens are compared as SHA-256 digests with timingSafeEqual,
 * every one of them each time, so the time taken says nothing about which token nearly matched.
 */
export class Authenticator {
  private readonly entries: { principal: Principal; digest: Buffer }[];
  private readonly sessions = new Map<string, Session>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(tokens: ModerationTokens, opts: AuthenticatorOptions = {}) {
    const problems = tokenProblems(tokens);
    if (problems.length) throw new TokenConfigError(problems.join('; '));
    this.entries = [
      ...Object.entries(tokens.reviewers ?? {}).map(([name, t]) => ({
        principal: { name, kind: 'reviewer' as const },
        digest: digest(t),
      })),
      ...Object.entries(tokens.services ?? {}).map(([name, t]) => ({
        principal: { name, kind: 'service' as const },
        digest: digest(t),
      })),
    ];
    this.ttlMs = opts.sessionTtlMs ?? 12 * 3600_000;
    this.now = opts.now ?? Date.now;
  }

  get sessionTtlMs(): number {
    return this.ttlMs;
  }

  byToken(token: string | undefined): Principal | null {
    const given = digest(token ?? '');
    let found: Principal | null = null;
    for (const e of this.entries) if (timingSafeEqual(e.digest, given)) found = e.principal;
    return token === undefined ? null : found;
  }

  /** A new session when `token` is the reviewer `name`'s token; services do not log in. */
  login(name: string, token: string): { id: string; principal: Principal } | null {
    const principal = this.byToken(token);
    if (principal === null || principal.kind !== 'reviewer' || principal.name !== name) return null;
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expires <= now) this.sessions.delete(id);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { principal, expires: now + this.ttlMs });
    return { id, principal };
  }

  bySession(id: string | undefined): Principal | null {
    if (id === undefined) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expires <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s.principal;
  }

  logout(id: string | undefined): void {
    if (id !== undefined) this.sessions.delete(id);
  }
}
