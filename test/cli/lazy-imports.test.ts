import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { COMMANDS } from '../../src/cli/commands.ts';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const T = { timeout: 60_000 };

/** Specifiers a module imports for its values as it loads (`import type` and import() left out). */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  const statement = /^(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(statement)) if (!m[1]) found.push(m[2]!);
  return found;
}

/** Every package a file pulls in through its static imports, following the project's own files. */
function packagesLoadedBy(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:') && !packages.has(spec)) packages.set(spec, file);
    }
  };
  visit(resolve(SRC, entry));
  return packages;
}

const ON_DEMAND = [
  '@google-cloud/pubsub',
  '@nats-io/transport-node',
  '@nats-io/jetstream',
  '@aws-sdk/client-s3',
  'playwright',
  'playwright-core',
];

test('the command line loads no command before it knows which one runs', T, () => {
  const loaded = packagesLoadedBy('cli/main.ts');
  assert.deepEqual([...loaded.keys()], [], 'main.ts and the command table load no package');
});

test("a node's worker process loads no broker or cloud client it was not configured for", T, () => {
  const loaded = packagesLoadedBy('cli/worker.ts');
  assert.ok(loaded.has('@temporalio/worker'), 'the walk follows the worker command');
  for (const pkg of ON_DEMAND)
    assert.ok(!loaded.has(pkg), `${pkg} is loaded as the worker starts, from ${loaded.get(pkg)}`);
});

test('every entry of the command table loads the command it names, with its help', T, async () => {
  const names = COMMANDS.map((c) => c.name);
  assert.equal(new Set(names).size, names.length, 'no command listed twice');
  for (const entry of COMMANDS) {
    const command = await entry.load();
    assert.equal(command.name, entry.name);
    assert.ok(entry.summary.length > 10, `${entry.name} has a summary`);
    assert.match(command.help, new RegExp(`tapedeck ${entry.name}\\b`), `${entry.name} --help`);
  }
});
