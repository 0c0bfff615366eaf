import { COMMANDS } from './commands.ts';

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `tapedeck records multi-host WebRTC livestreams: a composite of all hosts and each host on
their own, cut into 15-second snippets.

Usage: tapedeck COMMAND [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "tapedeck COMMAND --help" for a command's options and examples.
`;
}

/**
 * Errors the user can fix: one clear line and exit code 2, no stack trace. Known by name, so
 * nothing has to be loaded to recognise them.
 */
const USER_ERRORS = new Set([
  'UsageError',
  'ProfileError',
  'SpecError',
  'InvalidIdError',
  'TimelineError',
  'RecordingSetupError',
  'DeliverySetupError',
  'KeyError',
  'TimeRangeError',
]);

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write(topic ? (await topic.load()).help : usage());
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`tapedeck: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const command = await entry.load();
  try {
    return await command.run(rest);
  } catch (error) {
    if (USER_ERRORS.has((error as Error).name)) {
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
