import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseSnippetKey } from '../domain/snippet-key.ts';
import { SyntheticHost } from '../ingest/publisher/synthetic-host.ts';
import { startNode, type RunningNode } from '../node/node.ts';
import { numberOption, parseOptions, UsageError, type Command } from './command.ts';

const HOSTS = 4;
const PATTERNS = ['smpte', 'smpte75', 'smpte100', 'bar'];

interface CameraStep {
  atSec: number;
  host: number;
  on: boolean;
  /** 'publisher' stops the video itself (the ingest notices); 'api' is the platform saying so. */
  via: 'publisher' | 'api';
}

/** Host 2 turns its camera off and on again, host 4 is switched off by the platform later on. */
export function demoCameraScript(durationSec: number): CameraStep[] {
  const at = (f: number) => Math.round(durationSec * f);
  return [
    { atSec: at(0.3), host: 2, on: false, via: 'publisher' },
    { atSec: at(0.6), host: 2, on: true, via: 'publisher' },
    { atSec: at(0.65), host: 4, on: false, via: 'api' },
  ];
}

export interface DemoSummary {
  root: string;
  livestreamId: string;
  /** Folder of the file store: a key K is the file STORE/K. */
  store: string;
  events: string;
  hls: string;
  temporalUi: string | null;
  workflowIds: { livestream: string; recordings: string[] };
  tracks: Record<string, string[]>;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run a 4-host livestream end to end on this machine and show what it made',
  help: `Usage: tapedeck demo [--data DIR] [--duration SECONDS] [--json]

Starts a whole tapedeck node here (Temporal's dev server, the WHIP ingest, the control API, the
worker with its media processes, a file store and the embedded bus), creates a livestream and has
${HOSTS} synthetic hosts publish to it over WebRTC (WHIP). Along the way host 2 turns its camera off
and on, and the platform turns host 4's camera off, so host recordings switch between MP4 and MP3
and the composite shows placeholder tiles. Five recording workflows run: the composite (with a
live HLS playlist) and one per host. At the end it prints every snippet and where things are.

Everything stays on 127.0.0.1.

Options:
  --data DIR            where everything goes                         [default: ./.data/demo]
  --duration SECONDS    how long the hosts publish                    [default: 60]
  --json                print the summary as one JSON line at the end
  -h, --help            this help
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      data: { type: 'string' },
      duration: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const durationSec = numberOption('duration', values.duration, 60, 10, 3600);
    const livestreamId = `demo-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
    const root = resolve(values.data ?? '.data/demo');
    const hlsDir = join(root, 'hls', livestreamId);
    await mkdir(hlsDir, { recursive: true });
    const say = (line: string) => process.stderr.write(`${line}\n`);
    const progress = (line: string) =>
      process.stderr.isTTY ? process.stderr.write(`\r${line}\x1b[K`) : say(line);

    say(`starting a tapedeck node in ${root} (Temporal dev server, ingest, worker)…`);
    const node: RunningNode = await startNode({
      dataDir: root,
      apiPort: 0,
      whipPort: 0,
      hlsDir,
      log: (line) => {
        if (!values.json) say(line);
      },
    });
    const hosts: SyntheticHost[] = [];
    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      if (node.temporalUiUrl) say(`Temporal web UI: ${node.temporalUiUrl}`);
      const made = (await node.service.create({
        livestreamId,
        hostIds: Array.from({ length: HOSTS }, (_, i) => `h${i + 1}`),
      })) as { hosts: { hostId: string; whipUrl: string; token: string }[] };
      await node.livestreams.compositeRecording(livestreamId, 120_000);
      say(`livestream ${livestreamId}: ${HOSTS} hosts publish over WHIP for ${durationSec} s`);
      for (const [i, h] of made.hosts.entries())
        hosts.push(
          new SyntheticHost({
            whipUrl: h.whipUrl,
            token: h.token,
            name: h.hostId,
            toneHz: 330 + 110 * i,
            pattern: PATTERNS[i % PATTERNS.length]!,
          }),
        );
      await Promise.all(hosts.map((h) => h.answered()));

      const script = demoCameraScript(durationSec);
      const startedAt = Date.now();
      for (let sec = 0; sec < durationSec && !abort.signal.aborted; sec++) {
        for (const step of script.filter((s) => s.atSec === sec)) {
          const hostId = `h${step.host}`;
          say(`\n${sec} s: ${hostId} turns its camera ${step.on ? 'on' : 'off'} (${step.via})`);
          if (step.via === 'publisher')
            hosts[step.host - 1]!.send(`camera ${step.on ? 'on' : 'off'}`);
          else
            await node.service.control(livestreamId, hostId, step.on ? 'camera-on' : 'camera-off');
        }
        const publishing = node.ingest
          .snapshot(livestreamId)
          .filter((h) => h.presence.connection === 'publishing').length;
        progress(`  ${sec}/${durationSec} s · ${publishing}/${HOSTS} hosts publishing`);
        await new Promise((r) =>
          setTimeout(r, Math.max(0, startedAt + (sec + 1) * 1000 - Date.now())),
        );
      }
      say('\nstopping: hosts leave, recordings finish their last snippets and deliver them…');
      await node.service.stop(livestreamId);
      const result = await node.livestreams.result(livestreamId);
      const tracks: Record<string, string[]> = {};
      for await (const o of node.store.list(`${livestreamId}/`)) {
        const { track } = parseSnippetKey(o.key);
        (tracks[track] ??= []).push(o.key);
      }
      for (const keys of Object.values(tracks))
        keys.sort((a, b) => parseSnippetKey(a).startMs - parseSnippetKey(b).startMs);
      const summary: DemoSummary = {
        root,
        livestreamId,
        store: join(root, 'store'),
        events: join(root, 'bus', 'events.log'),
        hls: join(hlsDir, 'live.m3u8'),
        temporalUi: node.temporalUiUrl,
        workflowIds: {
          livestream: ((await node.service.state(livestreamId)) as { workflowId: string })
            .workflowId,
          recordings: result.recordings.map((r) => r.workflowId),
        },
        tracks,
      };
      if (values.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return 0;
      }
      const lines = Object.entries(tracks)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([track, keys]) => {
          const mp4 = keys.filter((k) => k.endsWith('.mp4')).length;
          const mp3 = keys.length - mp4;
          return `  ${track.padEnd(10)} ${String(mp4).padStart(2)} MP4${mp3 ? `, ${mp3} MP3` : ''} snippets`;
        });
      process.stdout.write(
        `\nRecorded livestream ${livestreamId} with ${result.recordings.length} recording workflows:\n` +
          `${lines.join('\n')}\n\n` +
          `Snippets (file store):  ${summary.store}/${livestreamId}/<track>/<mp4|mp3>/\n` +
          `Events (embedded bus):  ${summary.events}   (tapedeck events tail --out ${root} --from-start)\n` +
          `Live HLS playlist (as it was at the end): ${summary.hls}\n` +
          `Workflows: ${summary.workflowIds.livestream} and its ${result.recordings.length} recordings` +
          (node.temporalUiUrl ? ` (the Temporal web UI is up while the demo runs)` : '') +
          '\n',
      );
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await Promise.all(hosts.map((h) => h.stop('SIGKILL')));
      await node.stop();
    }
  },
};
