import { ProfileError } from '../domain/profile.ts';
import { InvalidIdError } from '../domain/ids.ts';
import { SpecError } from '../media/pipeline/spec.ts';
import { RecordingSetupError } from '../media/synthetic-recording.ts';
import { TimelineError } from '../media/timeline.ts';
import { DeliverySetupError } from '../recorder/delivery-runtime.ts';
import { KeyError } from '../domain/snippet-key.ts';
import { TimeRangeError } from '../domain/time-range.ts';
import { benchCommand } from './bench.ts';
import { UsageError, type Command } from './command.ts';
import { demoCommand } from './demo.ts';
import { recordCommand } from './record.ts';
import { liveCommand, tokenCommand } from './live.ts';
import { eventsCommand } from './events.ts';
import { deliverCommand } from './deliver.ts';
import { snippetsCommand } from './snippets.ts';
import { workerCommand } from './worker.ts';
import { upCommand } from './up.ts';
import { livestreamCommand } from './livestream.ts';
import { moderationCommand } from './moderation.ts';

const commands: Command[] = [
  demoCommand,
  upCommand,
  livestreamCommand,
  recordCommand,
  liveCommand,
  tokenCommand,
  deliverCommand,
  eventsCommand,
  snippetsCommand,
  moderationCommand,
  benchCommand,
  workerCommand,
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `tapedeck records multi-host WebRTC livestreams: a composite of all hosts and each host on
their own, cut into 15-second snippets.

Usage: tapedeck COMMAND [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "tapedeck COMMAND --help" for a command's options and examples.
`;
}

/** Errors the user can fix: one clear line and exit code 2, no stack trace. */
const USER_ERRORS = [
  UsageError,
  ProfileError,
  SpecError,
  InvalidIdError,
  TimelineError,
  RecordingSetupError,
  DeliverySetupError,
  KeyError,
  TimeRangeError,
];

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write(topic ? topic.help : usage());
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`tapedeck: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (USER_ERRORS.some((E) => error instanceof E || (error as Error).name === E.name)) {
      process.stderr.write(
        `tapedeck ${name}: ${(error as Error).message}\nRun "tapedeck ${name} --help" for usage.\n`,
      );
      return 2;
    }
    process.stderr.write(`tapedeck ${name}: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
