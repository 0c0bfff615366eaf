import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { openStore } from '../delivery/store/open.ts';
import type { ObjectStore } from '../delivery/store/port.ts';
import { persistentSecret } from '../node/secrets.ts';
import { DeliverySetupError } from '../recorder/delivery-runtime.ts';
import {
  parseTokenList,
  tokenProblems,
  TokenConfigError,
  type ModerationTokens,
} from '../moderation/service/auth.ts';
import { startModerationService } from '../moderation/service/moderation-service.ts';
import { intOption, parseOptions, UsageError, type Command } from './command.ts';

const TOKENS_ENV = 'TAPEDECK_MODERATION_TOKENS';

/** A tokens file: the same name=token lines as the variable, or JSON {reviewers, services}. */
async function readTokensFile(path: string): Promise<ModerationTokens> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--tokens-file ${path}: ${(err as Error).message}`);
  }
  if (!text.trimStart().startsWith('{')) return parseTokenList(text);
  try {
    const v = JSON.parse(text) as ModerationTokens;
    return { reviewers: v.reviewers ?? {}, services: v.services ?? {} };
  } catch (err) {
    throw new UsageError(`--tokens-file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

export const moderationCommand: Command = {
  name: 'moderation',
  help: `Usage: tapedeck moderation serve --data DIR [--port N] [--store URL] [options]

Runs the moderation service until Ctrl-C or SIGTERM:
  - the review API under /v1 (described at /openapi.json): escalation creates and widens
    reviews of merged clips there, and anyone with a token can list them, decide them and read
    the audit log;
  - the reviewer page at /: a queue of open reviews; each plays its clip with the flagged
    ranges marked under the player, lists the findings and takes a decision (approve or
    violation) with a note. Keys: j/k next/previous, space play/pause, a approve, v violation.
Reviews, idempotency keys and the audit log are kept in DIR/moderation.sqlite, so a restart
with the same DIR keeps them. Clips are read from the store and cached in DIR/clip-cache.

Tokens (who may call it; the name is the actor the audit log records):
  ${TOKENS_ENV}="alice=TOKEN,bob=TOKEN,service:escalation=TOKEN"
      name=token pairs separated by commas. A name is a reviewer (logs in on the page with
      name and token) unless written service:NAME (a program calling the API with
      Authorization: Bearer TOKEN).
  --tokens-file FILE
      the same pairs one per line (# starts a comment), or JSON
      {"reviewers": {"alice": "TOKEN"}, "services": {"escalation": "TOKEN"}}.
  Neither given: a reviewer "reviewer" and a service "escalation", their tokens made once and
  kept in SECRETS/moderation-reviewer-token and SECRETS/moderation-escalation-token.
  Tokens are at least 16 characters; make one with: openssl rand -base64 24

Options:
  --data DIR          data folder (database, clip cache)              [default: ./.data/moderation]
  --port N            port; 0 picks a free one                       [default: 8082]
  --host ADDR         address to listen on; anything but loopback belongs behind a TLS proxy
                                                                      [default: 127.0.0.1]
  --store URL         where the clips are: file://DIR or s3://BUCKET/PREFIX
                                                                      [default: file://DATA/store]
  --tokens-file FILE  tokens, as above
  --secrets DIR       where the tokens made for you are kept          [default: DATA/secrets]
  -h, --help          this help

Environment:
  ${TOKENS_ENV}   tokens, as above
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3   for s3:// stores

Examples:
  ${TOKENS_ENV}="alice=$(openssl rand -hex 16),service:escalation=$(openssl rand -hex 16)" \\
    tapedeck moderation serve --data /var/lib/tapedeck/moderation --store s3://recordings/tapedeck
  tapedeck moderation serve --data .data/demo/moderation/service --store file://.data/demo/store \\
    --secrets .data/demo/secrets
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      data: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      store: { type: 'string' },
      'tokens-file': { type: 'string' },
      secrets: { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals[0] !== 'serve' || positionals.length > 1)
      throw new UsageError(
        `expected "tapedeck moderation serve", not "tapedeck moderation ${positionals.join(' ')}"`,
      );
    const dataDir = resolve(values.data ?? '.data/moderation');
    const port = intOption('port', values.port, 8082, 0, 65535);
    const host = values.host ?? '127.0.0.1';
    const env = process.env[TOKENS_ENV]?.trim();
    if (env && values['tokens-file'])
      throw new UsageError(`give tokens either in ${TOKENS_ENV} or in --tokens-file, not both`);

    let tokens: ModerationTokens;
    let made: { name: string; file: string } | null = null;
    try {
      if (env) tokens = parseTokenList(env);
      else if (values['tokens-file']) tokens = await readTokensFile(values['tokens-file']);
      else {
        const secrets = resolve(values.secrets ?? join(dataDir, 'secrets'));
        const file = join(secrets, 'moderation-reviewer-token');
        tokens = {
          reviewers: { reviewer: await persistentSecret(file) },
          services: {
            escalation: await persistentSecret(join(secrets, 'moderation-escalation-token')),
          },
        };
        made = { name: 'reviewer', file };
      }
    } catch (err) {
      if (err instanceof TokenConfigError) throw new UsageError(err.message);
      throw err;
    }
    const problems = tokenProblems(tokens);
    if (problems.length) throw new UsageError(`tokens: ${problems.join('; ')}`);

    const storeUrl = values.store ?? `file://${join(dataDir, 'store')}`;
    let store: ObjectStore;
    try {
      store = openStore(storeUrl);
      await store.check();
    } catch (err) {
      throw new DeliverySetupError(`cannot use the store ${storeUrl}: ${(err as Error).message}`);
    }
    const service = await startModerationService({
      dataDir,
      store,
      tokens,
      host,
      port,
      onError: (err) => process.stderr.write(`moderation: ${(err as Error).stack ?? err}\n`),
    });
    const reviewers = Object.keys(tokens.reviewers ?? {});
    const login = made
      ? `log in as "${made.name}" with the token in ${made.file}`
      : reviewers.length
        ? `log in as ${reviewers.map((n) => `"${n}"`).join(', ')} with that name's token`
        : `no reviewers are configured: add name=token to ${TOKENS_ENV} to log in`;
    process.stdout.write(
      `moderation service at ${service.url}\n` +
        `  reviewer page  ${service.url}/   ${login}\n` +
        `  API            ${service.url}/v1/reviews (Authorization: Bearer TOKEN); ${service.url}/openapi.json\n` +
        `  database       ${join(dataDir, 'moderation.sqlite')}\n` +
        `  clips from     ${store.describe}\n` +
        'Ctrl-C stops.\n',
    );
    await new Promise<void>((done) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
    });
    await service.close();
    await store.close();
    return 0;
  },
};
