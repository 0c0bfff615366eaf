import { join } from 'node:path';

import { openEmbeddedBus } from './embedded-bus.ts';
import { BusError, type MessageBus } from './port.ts';

export interface OpenBusOptions {
  /** The embedded bus lives in `${dataDir}/bus`. */
  dataDir: string;
  /** Where PUBSUB_EMULATOR_HOST is read; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

export const BUS_URL_FORMS = 'embedded, nats://HOST:PORT or pubsub://PROJECT/TOPIC';

/** Google's rules: project ids (optionally domain-scoped) and topic names. */
const PROJECT = /^([a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
// Room is left for "-{subscription name}" within the 255 characters of a subscription.
const TOPIC = /^(?!goog)[A-Za-z][A-Za-z0-9._~+%-]{2,189}$/;

/** Never echo a password back into a log. */
function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}

function refuse(url: string, why: string): BusError {
  return new BusError(`bus "${redact(url)}": ${why}`, false);
}

async function natsBus(url: string): Promise<MessageBus> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw refuse(url, 'write nats://HOST:PORT');
  }
  if (u.hostname === '' || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash)
    throw refuse(url, 'write nats://HOST:PORT (no path or query)');
  const server = `${u.hostname}:${u.port || '4222'}`;
  const { createNatsBus } = await import('./nats-bus.ts');
  return createNatsBus({
    server,
    user: u.username ? decodeURIComponent(u.username) : undefined,
    pass: u.password ? decodeURIComponent(u.password) : undefined,
  });
}

async function pubsubBus(url: string, env: NodeJS.ProcessEnv): Promise<MessageBus> {
  const m = /^pubsub:\/\/([^/?#]+)\/([^/?#]+)$/.exec(url);
  if (!m) throw refuse(url, 'write pubsub://PROJECT/TOPIC');
  const [, projectId = '', topic = ''] = m;
  if (!PROJECT.test(projectId))
    throw refuse(url, `"${projectId}" is not a Google Cloud project id (6 to 30 of a-z, 0-9, -)`);
  if (!TOPIC.test(topic)) {
    throw refuse(
      url,
      `"${topic}" is not a usable topic name: 3 to 190 characters of A-Z, a-z, 0-9, ` +
        '. _ ~ + % -, starting with a letter, not with "goog"',
    );
  }
  const emulatorHost = env.PUBSUB_EMULATOR_HOST?.trim() || undefined;
  const { createPubSubBus } = await import('./pubsub-bus.ts');
  return createPubSubBus({ projectId, topic, emulatorHost });
}

/**
 * The bus a URL names. Nothing is contacted yet: call check() to find out whether it works.
 * A broker's client library is loaded only for a URL that names it: Google's takes about 0.45 s
 * of CPU and 40 MiB to load, and every process of a node opens a bus as it starts.
 */
export async function openBus(url: string, opts: OpenBusOptions): Promise<MessageBus> {
  const spec = url.trim();
  if (spec === 'embedded') return openEmbeddedBus({ dir: join(opts.dataDir, 'bus') });
  if (spec.startsWith('nats://')) return natsBus(spec);
  if (spec.startsWith('pubsub://')) return pubsubBus(spec, opts.env ?? process.env);
  throw refuse(spec, `unknown kind of bus: write ${BUS_URL_FORMS}`);
}
