import { join, resolve } from 'node:path';
import { Deliverer } from '../delivery/deliverer.ts';
import { openBus } from '../delivery/bus/open.ts';
import type { MessageBus } from '../delivery/bus/port.ts';
import { Outbox } from '../delivery/outbox.ts';
import { openStore } from '../delivery/store/open.ts';
import type { ObjectStore } from '../delivery/store/port.ts';

/** A store or bus that cannot be used: said at start, before anything is recorded. */
export class DeliverySetupError extends Error {
  override name = 'DeliverySetupError';
}

export interface DeliveryConfig {
  /** Local data: spool/, quarantine/, outbox/ and (embedded bus) bus/. */
  dataDir: string;
  /** file://DIR or s3://BUCKET/PREFIX; default file://DATA/store. */
  storeUrl?: string;
  /** embedded, nats://HOST:PORT or pubsub://PROJECT/TOPIC; default embedded. */
  busUrl?: string;
  /** Where the embedded bus lives when it is shared with other processes; default dataDir. */
  busDataDir?: string;
  env?: NodeJS.ProcessEnv;
  maxSpoolBytes?: number;
}

export interface DeliveryRuntime {
  store: ObjectStore;
  bus: MessageBus;
  outbox: Outbox;
  deliverer: Deliverer;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Waits up to `timeoutMs` for the spool and then the outbox to empty. Never throws: what is still
 * waiting stays on disk for the next run, and the counts say how much that is.
 */
export async function drainDelivery(
  runtime: Pick<DeliveryRuntime, 'deliverer' | 'outbox'>,
  timeoutMs: number,
): Promise<{ snippetsPending: number; eventsPending: number }> {
  const deadline = Date.now() + timeoutMs;
  await runtime.deliverer.drain(timeoutMs);
  await runtime.outbox.drain(Math.max(0, deadline - Date.now())).catch(() => undefined);
  return {
    snippetsPending: runtime.deliverer.pendingCount(),
    eventsPending: runtime.outbox.pending(),
  };
}

export function defaultStoreUrl(dataDir: string): string {
  return `file://${join(resolve(dataDir), 'store')}`;
}

/** Parses the URLs without contacting anything, so a typo fails before any folder is made. */
export async function parseDeliveryConfig(
  config: DeliveryConfig,
): Promise<{ store: ObjectStore; bus: MessageBus }> {
  const dataDir = resolve(config.dataDir);
  let store: ObjectStore;
  try {
    store = openStore(config.storeUrl ?? defaultStoreUrl(dataDir), config.env);
  } catch (err) {
    throw new DeliverySetupError(`--store: ${(err as Error).message}`);
  }
  let bus: MessageBus;
  try {
    bus = await openBus(config.busUrl ?? 'embedded', {
      dataDir: config.busDataDir ? resolve(config.busDataDir) : dataDir,
      ...(config.env ? { env: config.env } : {}),
    });
  } catch (err) {
    await store.close();
    throw new DeliverySetupError(`--bus: ${(err as Error).message}`);
  }
  return { store, bus };
}

/**
 * Checks the store and the bus (wrong credentials or an unreachable server fail here, not at the
 * first upload), then opens the outbox and the deliverer, which delivers any leftovers at once.
 */
export async function startDelivery(
  config: DeliveryConfig,
  parsed: { store: ObjectStore; bus: MessageBus },
): Promise<DeliveryRuntime> {
  const dataDir = resolve(config.dataDir);
  const { store, bus } = parsed;
  const closeAll = async () => {
    await Promise.allSettled([store.close(), bus.close()]);
  };
  // The bus first: checking a file store creates its folder, which a failed start should not leave.
  try {
    await bus.check();
  } catch (err) {
    await closeAll();
    throw new DeliverySetupError(`cannot use the bus ${bus.describe}: ${(err as Error).message}`);
  }
  try {
    await store.check();
  } catch (err) {
    await closeAll();
    throw new DeliverySetupError(
      `cannot use the store ${store.describe}: ${(err as Error).message}`,
    );
  }
  let outbox: Outbox;
  try {
    outbox = await Outbox.open({ dataDir, bus });
  } catch (err) {
    await closeAll();
    throw new DeliverySetupError((err as Error).message);
  }
  outbox.start();
  const deliverer = new Deliverer({
    spoolRoot: join(dataDir, 'spool'),
    quarantineRoot: join(dataDir, 'quarantine'),
    store,
    outbox,
    ...(config.maxSpoolBytes ? { maxSpoolBytes: config.maxSpoolBytes } : {}),
  });
  try {
    await deliverer.start();
  } catch (err) {
    await outbox.close();
    await closeAll();
    throw new DeliverySetupError(`cannot watch the spool: ${(err as Error).message}`);
  }
  return {
    store,
    bus,
    outbox,
    deliverer,
    dataDir,
    async close() {
      await deliverer.close();
      await outbox.close();
      await closeAll();
    },
  };
}
