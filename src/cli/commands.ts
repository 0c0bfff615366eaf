import type { Command } from './command.ts';

/**
 * Every command with its line in the usage. A command's module is loaded only when it runs or
 * shows its help: together they pull in Temporal, the WebRTC stack, the browser driver and the
 * brokers' clients, 2 s of CPU and 200 MiB before anything is printed.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'demo',
    summary: 'run a 4-host livestream end to end on this machine and show what it made',
    load: () => import('./demo.ts').then((m) => m.demoCommand),
  },
  {
    name: 'up',
    summary: 'run a tapedeck node: WHIP ingest, control API, Temporal workers and media',
    load: () => import('./up.ts').then((m) => m.upCommand),
  },
  {
    name: 'livestream',
    summary: 'create, inspect and stop livestreams on a running node',
    load: () => import('./livestream.ts').then((m) => m.livestreamCommand),
  },
  {
    name: 'record',
    summary:
      'record synthetic hosts into 15-second snippets, delivered to a store and announced on a bus',
    load: () => import('./record.ts').then((m) => m.recordCommand),
  },
  {
    name: 'live',
    summary: 'take hosts over WHIP and record a livestream: composite and one recording per host',
    load: () => import('./live.ts').then((m) => m.liveCommand),
  },
  {
    name: 'token',
    summary: 'issue a WHIP bearer token for one host of one livestream',
    load: () => import('./live.ts').then((m) => m.tokenCommand),
  },
  {
    name: 'deliver',
    summary: 'deliver what an earlier run left in a data folder (spool and outbox), then exit',
    load: () => import('./deliver.ts').then((m) => m.deliverCommand),
  },
  {
    name: 'events',
    summary: 'print events from the bus as they come (tail)',
    load: () => import('./events.ts').then((m) => m.eventsCommand),
  },
  {
    name: 'snippets',
    summary: 'list the snippets of a livestream in the store, by track and time range',
    load: () => import('./snippets.ts').then((m) => m.snippetsCommand),
  },
  {
    name: 'moderation',
    summary: 'serve the review API and the reviewer page (moderation serve)',
    load: () => import('./moderation.ts').then((m) => m.moderationCommand),
  },
  {
    name: 'bench',
    summary:
      'benchmarks: "bench media" (CPU and memory), "bench delivery" (snippet availability), "bench ingest" (WebRTC ingest), "bench scoring" (quality scorer), "bench escalation" (low score to review), "bench system" (livestreams per node)',
    load: () => import('./bench.ts').then((m) => m.benchCommand),
  },
  {
    name: 'worker',
    summary: "run a node's Temporal workers and media (started and restarted by `tapedeck up`)",
    load: () => import('./worker.ts').then((m) => m.workerCommand),
  },
];
