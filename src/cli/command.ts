import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  name: string;
  /** Full help: usage, options with defaults, and examples. */
  help: string;
  run(argv: string[]): Promise<number>;
}

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function numberOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  whole = false,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  const ok = whole ? Number.isInteger(value) : Number.isFinite(value);
  if (!ok || value < min || value > max)
    throw new UsageError(
      `--${name} must be a ${whole ? 'whole number' : 'number'} from ${min} to ${max}, not "${raw}"`,
    );
  return value;
}

export function intOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  return numberOption(name, raw, fallback, min, max, true);
}

export function choiceOption<T extends string>(
  name: string,
  raw: string | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback;
  if (!choices.includes(raw as T))
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, not "${raw}"`);
  return raw as T;
}
