import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  defaultProfile,
  DEFAULT_COMPOSITE_CANVAS,
  DEFAULT_HOST_CANVAS,
} from '../domain/profile.ts';
import type { RecordingSpec } from '../media/pipeline/spec.ts';
import { syntheticHost, type RecordingSummary } from '../media/synthetic-recording.ts';
import type { DeliveredSnippet } from '../delivery/deliverer.ts';
import { parseDeliveryConfig, startDelivery } from '../recorder/delivery-runtime.ts';
import { recordAndDeliver } from '../recorder/record-and-deliver.ts';
import type { TimelineStep } from '../media/timeline.ts';
import { numberOption, parseOptions, UsageError, type Command } from './command.ts';

const HOSTS = 4;

/** Host 2 turns the camera off for a while, host 4 a little later, so placeholders show. */
function cameraScript(durationSec: number): Map<number, TimelineStep[]> {
  const at = (f: number) => Math.round(durationSec * f);
  return new Map([
    [
      2,
      [
        { atSeconds: at(0.3), action: 'camera-off', host: 2 },
        { atSeconds: at(0.55), action: 'camera-on', host: 2 },
      ],
    ],
    [4, [{ atSeconds: at(0.6), action: 'camera-off', host: 4 }]],
  ]);
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'record a 4-host livestream of synthetic hosts: a composite and one recording per host',
  help: `Usage: tapedeck demo [--data DIR] [--duration SECONDS] [--json]

Runs a livestream of ${HOSTS} synthetic hosts through the media engine: one composite recording
(all hosts on a 360x640 canvas, with a live HLS playlist) and one recording per host (640x360),
five recordings in all, each cut into 15-second snippets. Hosts turn their cameras off and on
along the way, so the composite shows placeholder tiles. At the end it prints every snippet and
where it is.

Options:
  --data DIR            where recordings go                       [default: ./.data/demo]
  --duration SECONDS    how long the livestream runs              [default: 40]
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
    const durationSec = numberOption('duration', values.duration, 40, 5, 3600);
    const livestreamId = `demo-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
    const root = join(resolve(values.data ?? '.data/demo'), livestreamId);
    await mkdir(root, { recursive: true });
    const script = cameraScript(durationSec);
    const hosts = Array.from({ length: HOSTS }, (_, i) => syntheticHost(i + 1));
    const recordings: {
      track: string;
      spec: Omit<RecordingSpec, 'outDir'>;
      timeline: TimelineStep[];
    }[] = [
      {
        track: 'composite',
        spec: {
          kind: 'composite',
          recordingId: 'composite',
          profile: defaultProfile(DEFAULT_COMPOSITE_CANVAS),
          inputs: hosts,
          hlsDir: join(root, 'hls'),
        },
        timeline: [...script.values()].flat().sort((a, b) => a.atSeconds - b.atSeconds),
      },
      ...hosts.map((host, i) => ({
        track: `host-${host.id}`,
        spec: {
          kind: 'host' as const,
          recordingId: `host-${host.id}`,
          profile: defaultProfile(DEFAULT_HOST_CANVAS),
          inputs: [host],
        },
        timeline: (script.get(i + 1) ?? []).map((s) => ({ ...s, host: 1 })),
      })),
    ];
    const config = { dataDir: root };
    const runtime = await startDelivery(config, await parseDeliveryConfig(config));
    const delivered: DeliveredSnippet[] = [];
    runtime.deliverer.on('delivered', (d) => delivered.push(d));
    runtime.deliverer.on('warning', (m) => process.stderr.write(`\nwarning: ${m}\n`));
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    process.stderr.write(
      `demo livestream ${livestreamId}: ${HOSTS} hosts, ${recordings.length} recordings, ${durationSec} s\n`,
    );
    let summaries: [string, RecordingSummary][];
    try {
      summaries = await Promise.all(
        recordings.map(({ track, spec, timeline }) =>
          recordAndDeliver({
            livestreamId,
            spec,
            deliverer: runtime.deliverer,
            durationSec,
            timeline,
            signal: abort.signal,
            onProgress: ({ elapsedSec }) => {
              if (track !== 'composite') return;
              const line = `  ${elapsedSec.toFixed(0)}/${durationSec} s · ${delivered.length} snippets delivered · ${runtime.outbox.pending()} events pending`;
              process.stderr.write(
                process.stderr.isTTY
                  ? `\r${line}  `
                  : Math.round(elapsedSec) % 10 === 0
                    ? `${line}\n`
                    : '',
              );
            },
          }).then((summary): [string, RecordingSummary] => [track, summary]),
        ),
      );
      await runtime.deliverer.drain(120_000);
      await runtime.outbox.drain(60_000);
    } finally {
      await runtime.close();
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    const byTrack = (track: string) =>
      delivered.filter((d) => d.track === track).sort((a, b) => a.seq - b.seq);
    const tracks = Object.fromEntries(
      summaries.map(([track]) => [track, byTrack(track).map((d) => runtime.store.locate(d.key))]),
    );
    const store = join(root, 'store', livestreamId);
    const events = join(root, 'bus', 'events.log');
    const hls = join(root, 'hls', 'live.m3u8');
    if (values.json) {
      process.stdout.write(
        JSON.stringify({ root, livestreamId, hls, store, events, tracks }) + '\n',
      );
      return 0;
    }
    const lines = summaries.map(
      ([track]) =>
        `  ${track.padEnd(10)} ${String(byTrack(track).length).padStart(2)} snippets  ` +
        byTrack(track)
          .map((d) => `${(d.durationMs / 1000).toFixed(1)}s`)
          .join(' '),
    );
    process.stdout.write(
      `\nRecorded livestream ${livestreamId}:\n${lines.join('\n')}\n\n` +
        `Snippets (file store):  ${store}/<track>/<mp4|mp3>/\n` +
        `Events (embedded bus):  ${events}   (tapedeck events tail --out ${root} --from-start)\n` +
        `Live HLS playlist (as it was at the end): ${hls}\n`,
    );
    return 0;
  },
};
