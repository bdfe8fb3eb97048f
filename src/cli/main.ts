// The promptgraph command line: a thin face over the library. Dispatches to a subcommand,
// prints failures as one clear message (the stack only with PROMPTGRAPH_DEBUG=1) and turns
// them into exit statuses.

import { NoAdapterError } from '../runtime/index.js';
import { EXIT, parseCommandArgs, UsageError, wantsHelp, type Command, type Io } from './command.js';
import { demo } from './demo.js';
import { smoke } from './smoke.js';
import { doctor } from './doctor.js';
import { printGraphCommand } from './print-graph.js';
import { inspectCommand } from './inspect.js';
import { traceCommand } from './trace.js';
import { trainCommand } from './train.js';
import { pretrainCommand } from './pretrain.js';
import { exportCommand } from './export.js';
import { evalCommand } from './eval.js';
import { generateCommand } from './generate.js';

export const COMMANDS: readonly Command[] = [doctor, demo, smoke, trainCommand, evalCommand, generateCommand, pretrainCommand, inspectCommand, traceCommand, exportCommand, printGraphCommand];

export function toolHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `promptgraph: parameter-efficient prompt methods as graph transforms, run on WebGPU (Dawn)

Usage: promptgraph <command> [options]
       promptgraph <command> --help

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Environment:
  PROMPTGRAPH_BACKEND         Dawn backend to use, e.g. vulkan (default: Dawn's choice)
  PROMPTGRAPH_ADAPTER         adapter name to use, as Dawn lists it
  PROMPTGRAPH_LOG             debug | info | warn (default) | silent, on stderr
  PROMPTGRAPH_GPU_TIMEOUT_MS  bound on every wait for the device (default 120000)
  PROMPTGRAPH_DEBUG=1         print stack traces with errors

Exit status: 0 success, 1 failure, 2 no WebGPU adapter, 64 usage error.`;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
};

/** Runs the tool with `argv` (without node and script) and returns the exit status; never throws. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
      const topic = name === 'help' ? rest[0] : undefined;
      const cmd = topic === undefined ? undefined : findCommand(topic);
      io.out(cmd ? cmd.help : toolHelp());
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    const cmd = findCommand(name);
    if (wantsHelp(rest)) {
      io.out(cmd.help);
      return EXIT.ok;
    }
    return await cmd.run(parseCommandArgs(cmd, rest), io);
  } catch (e) {
    return report(e, io);
  }
}

function findCommand(name: string): Command {
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) throw new UsageError(`unknown command '${name}'; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see promptgraph --help)`);
  return cmd;
}

function report(e: unknown, io: Io): number {
  const debug = process.env.PROMPTGRAPH_DEBUG === '1';
  if (e instanceof NoAdapterError) {
    io.err(debug && e.stack ? e.stack : e.message);
    return EXIT.noAdapter;
  }
  if (e instanceof UsageError) {
    io.err(`promptgraph: ${e.message}`);
    return EXIT.usage;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  io.err(debug && err.stack ? err.stack : `promptgraph: ${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`);
  return EXIT.failure;
}
