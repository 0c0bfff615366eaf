import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { assertId } from '../domain/ids.ts';
import { intOption, parseOptions, UsageError, type Command } from './command.ts';

/** The control API of a running node, as `tapedeck up` printed it. */
async function apiOf(values: {
  api?: string | undefined;
  data?: string | undefined;
}): Promise<{ url: string; key: string }> {
  const url = (values.api ?? process.env.TAPEDECK_API ?? 'http://127.0.0.1:8080').replace(
    /\/$/,
    '',
  );
  let key = process.env.TAPEDECK_API_KEY?.trim();
  if (!key) {
    const file = join(resolve(values.data ?? '.data/node'), 'secrets', 'api-key');
    key = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (!key)
      throw new UsageError(
        `no API key: set TAPEDECK_API_KEY or pass the node's --data (no ${file})`,
      );
  }
  return { url, key };
}

async function call(
  api: { url: string; key: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${api.key}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new UsageError(
      `cannot reach the control API at ${api.url} (is \`tapedeck up\` running?): ${(err as Error).message}`,
    );
  }
  const text = await res.text();
  const value: unknown = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const detail = (value as { detail?: string } | null)?.detail ?? text;
    throw new UsageError(`${method} ${path}: ${res.status} ${detail}`);
  }
  return value;
}

export const livestreamCommand: Command = {
  name: 'livestream',
  help: `Usage: tapedeck livestream create [--hosts N | --host ID...] [--id ID] [--json]
       tapedeck livestream status ID [--json]
       tapedeck livestream stop ID

Talks to the control API of a node started with \`tapedeck up\`. create prints each host's WHIP
URL and bearer token; hand them to the hosts' publishers (a browser, OBS, GStreamer). The node
records the composite and every host from the moment they publish; stop ends the publishes and
finishes every recording with a complete last snippet.

Options:
  --hosts N        number of hosts, named host1..hostN                      [default: 4]
  --host ID        a host by name (repeatable; instead of --hosts)
  --id ID          the livestream's id                           [default: a random one]
  --api URL        the node's control API   [default: $TAPEDECK_API or http://127.0.0.1:8080]
  --data DIR       the node's data folder, to read its API key  [default: ./.data/node]
                   (or set TAPEDECK_API_KEY)
  --json           print the answer as JSON
  -h, --help       this help
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      hosts: { type: 'string' },
      host: { type: 'string', multiple: true },
      id: { type: 'string' },
      api: { type: 'string' },
      data: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    const [action, id, ...rest] = positionals;
    if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const print = (value: unknown, text: string) =>
      process.stdout.write(values.json ? `${JSON.stringify(value)}\n` : text);
    if (action === 'create') {
      if (id) throw new UsageError('create takes no positional id; use --id');
      if (values.hosts && values.host)
        throw new UsageError('give --hosts N or --host ID, not both');
      const body = {
        ...(values.id ? { livestreamId: assertId('livestream id', values.id) } : {}),
        ...(values.host
          ? { hosts: values.host.map((h) => assertId('host id', h)) }
          : { hostCount: intOption('hosts', values.hosts, 4, 1, 16) }),
      };
      const api = await apiOf(values);
      const made = (await call(api, 'POST', '/v1/livestreams', body)) as {
        livestreamId: string;
        hosts: { hostId: string; whipUrl: string; token: string }[];
      };
      print(
        made,
        `livestream ${made.livestreamId} is recording; hosts publish over WHIP:\n` +
          made.hosts.map((h) => `  ${h.hostId}  ${h.whipUrl}\n    token ${h.token}\n`).join(''),
      );
      return 0;
    }
    if (action === 'status' || action === 'stop') {
      if (!id) throw new UsageError(`${action} needs the livestream id`);
      assertId('livestream id', id);
      const api = await apiOf(values);
      if (action === 'stop') {
        const v = await call(api, 'POST', `/v1/livestreams/${id}/stop`);
        print(v, `livestream ${id} is stopping; recordings finish their last snippet\n`);
        return 0;
      }
      const state = (await call(api, 'GET', `/v1/livestreams/${id}`)) as {
        stopping: boolean;
        hosts: { hostId: string; present: boolean; cameraOn: boolean }[];
        recordingWorkflows: string[];
      };
      print(
        state,
        `livestream ${id}${state.stopping ? ' (stopping)' : ''}\n` +
          state.hosts
            .map(
              (h) =>
                `  ${h.hostId}: ${h.present ? (h.cameraOn ? 'camera on' : 'camera off') : 'away'}\n`,
            )
            .join('') +
          `  ${state.recordingWorkflows.length} recording workflows\n`,
      );
      return 0;
    }
    throw new UsageError('say create, status ID or stop ID (see --help)');
  },
};
