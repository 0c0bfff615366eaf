import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { REVIEWS_FOLDER } from '../domain/escalation.ts';
import {
  checkImpairments,
  ImpairmentPlanError,
  impairmentSteps,
  parseImpairment,
  type PlannedImpairment,
} from '../domain/impairment-plan.ts';
import type { Review } from '../domain/review.ts';
import { parseSnippetKey } from '../domain/snippet-key.ts';
import { waitForModeration } from '../moderation/settle.ts';
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

/** Without --impair, host 3 shows black for 10 s from a quarter of the run, then is silent for 10 s. */
export function demoImpairments(durationSec: number): PlannedImpairment[] {
  const from = Math.round(durationSec * 0.25);
  const plan: PlannedImpairment[] = [
    { host: 3, kind: 'black', fromSec: from, toSec: Math.min(durationSec, from + 10) },
    { host: 3, kind: 'silence', fromSec: from + 10, toSec: Math.min(durationSec, from + 20) },
  ];
  return plan.filter((p) => p.toSec - p.fromSec >= 3);
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
  /** When second 0 of the run was, ISO 8601: impairment and camera times count from here. */
  startedAt: string;
  /** The impairments the synthetic hosts were told to make. */
  impairments: PlannedImpairment[];
  /** Reviews the moderation loop made, with their merged clips (keys in the store). */
  reviews: DemoReview[];
  /** The built-in moderation service's data, for `tapedeck moderation serve --data`. */
  moderation: string;
}

export interface DemoReview {
  id: string;
  track: string;
  clipKey: string;
  start: string;
  end: string;
  flagged: { start: string; end: string }[];
  impairments: string[];
  lowestScore: number;
}

function demoReview(r: Review): DemoReview {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: r.id,
    track: r.track,
    clipKey: r.clipKey,
    start: iso(r.range.startMs),
    end: iso(r.range.endMs),
    flagged: r.flagged.map((f) => ({ start: iso(f.startMs), end: iso(f.endMs) })),
    impairments: [...new Set(r.findings.map((f) => f.impairment))].sort(),
    lowestScore: r.lowestScore,
  };
}

export const demoCommand: Command = {
  name: 'demo',
  help: `Usage: tapedeck demo [--data DIR] [--duration SECONDS] [--impair HOST:KIND:FROM-TO]... [--no-impair] [--json]

Starts a whole tapedeck node here (Temporal's dev server, the WHIP ingest, the control API, the
worker with its media processes, a file store and the embedded bus), creates a livestream and has
${HOSTS} synthetic hosts publish to it over WebRTC (WHIP). Along the way host 2 turns its camera off
and on, and the platform turns host 4's camera off, so host recordings switch between MP4 and MP3
and the composite shows placeholder tiles. Five recording workflows run: the composite (with a
live HLS playlist) and one per host. Every snippet is scored for audio and video quality; a low
score becomes a review (a merged clip from 30 s before to 30 s after it) in the built-in
moderation service. At the end it prints every snippet, every review and where things are.

Everything stays on 127.0.0.1.

Options:
  --data DIR            where everything goes                         [default: ./.data/demo]
  --duration SECONDS    how long the hosts publish                    [default: 60]
  --impair HOST:KIND:FROM-TO
                        host HOST (1 to ${HOSTS}) makes the impairment KIND (black, frozen, silence,
                        clipping or noise) from FROM to TO seconds after the start; repeatable.
                        One video and one audio impairment per host at a time. Host 2's camera
                        is off from 30 % to 60 % of the run and host 4's from 65 %: impair host 1
                        or 3 to see MP4 reviews.
                        e.g. --impair 1:black:10-20 --impair 1:silence:25-35
                        Without it, host 3 shows black for 10 s from a quarter of the run and is
                        then silent for 10 s, so the run ends with a review.
  --no-impair           no impairments at all (and so, normally, no review)
  --json                print the summary as one JSON line on stdout at the end (the log
                        stays on stderr)
  -h, --help            this help
`,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      data: { type: 'string' },
      duration: { type: 'string' },
      json: { type: 'boolean' },
      impair: { type: 'string', multiple: true },
      'no-impair': { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const durationSec = numberOption('duration', values.duration, 60, 10, 3600);
    let impairments: PlannedImpairment[];
    try {
      impairments = values['no-impair']
        ? []
        : values.impair?.length
          ? values.impair.map((t) => parseImpairment(t, HOSTS, durationSec))
          : demoImpairments(durationSec);
      checkImpairments(impairments);
    } catch (err) {
      if (err instanceof ImpairmentPlanError) throw new UsageError(err.message);
      throw err;
    }
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
      moderation: { builtIn: true },
      // With --json too: stdout holds only the summary, and the log is what explains a run.
      log: say,
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
      const impairing = impairmentSteps(impairments);
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
        for (const step of impairing.filter((s) => s.atSec === sec)) {
          const what = step.commands.slice(1).map((c) => c.replace('impair ', ''));
          say(
            `\n${sec} s: h${step.host} ${what.length ? `makes ${what.join(' and ')}` : 'is back to normal'}`,
          );
          for (const c of step.commands) hosts[step.host - 1]!.send(c);
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
      let snippets = 0;
      for await (const o of node.store.list(`${livestreamId}/`)) {
        if (o.key.split('/')[1] === REVIEWS_FOLDER) continue;
        snippets += 1;
        const { track } = parseSnippetKey(o.key);
        (tracks[track] ??= []).push(o.key);
      }
      for (const keys of Object.values(tracks))
        keys.sort((a, b) => parseSnippetKey(a).startMs - parseSnippetKey(b).startMs);
      const moderation = node.moderation!;
      say('scoring the last snippets and cutting review clips…');
      await waitForModeration({
        runtime: moderation,
        client: node.client,
        livestreamId,
        snippets,
        timeoutMs: 180_000,
        onProgress: (line) => progress(`  ${line}`),
      });
      const reviews = (await moderation.moderation.listReviews({ livestreamId })).map(demoReview);
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
        startedAt: new Date(startedAt).toISOString(),
        impairments,
        reviews,
        moderation: join(root, 'moderation', 'service'),
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
          `Reviews (${reviews.length}):${reviews.map((r) => `\n  ${r.track.padEnd(10)} ${r.impairments.join(', ').padEnd(16)} score ${r.lowestScore}  ${summary.store}/${r.clipKey}`).join('')}\n` +
          `Reviewer page:          tapedeck moderation serve --data ${summary.moderation} --store file://${summary.store} --secrets ${join(root, 'secrets')}\n` +
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
