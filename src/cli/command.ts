// What a subcommand is, and the argument parsing they share (node:util parseArgs, no dependency).

import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Exit statuses, documented in the tool's help. */
export const EXIT = { ok: 0, failure: 1, noAdapter: 2, usage: 64 } as const;

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** Where a command writes; tests and the launcher pass the process streams. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export interface Command {
  readonly name: string;
  /** One line for the tool's command list. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  readonly options: OptionSpecs;
  /** How many positional arguments the command takes. */
  readonly positionals: { readonly min: number; readonly max: number };
  run(args: ParsedArgs, io: Io): Promise<number>;
}

/** A mistake in how the tool was called: reported with a pointer to --help, exit 64. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses a command's arguments; `--help` is handled by the caller before this. */
export function parseCommandArgs(cmd: Command, argv: readonly string[]): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: cmd.options, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs throws TypeErrors with messages such as "Unknown option '--x'".
    throw new UsageError(`${cmd.name}: ${(e as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`);
  }
  const n = parsed.positionals.length;
  const { min, max } = cmd.positionals;
  if (n < min || n > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new UsageError(`${cmd.name}: expected ${want} argument(s), got ${n}${n ? ` (${parsed.positionals.join(' ')})` : ''}`);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}
