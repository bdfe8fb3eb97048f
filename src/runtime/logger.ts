// A minimal logger interface so the runtime can report without owning the console.

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

export const LEVELS = ['debug', 'info', 'warn', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];

export function consoleLogger(level: LogLevel = (process.env.PROMPTGRAPH_LOG as LogLevel) ?? 'warn'): Logger {
  const at = Math.max(0, LEVELS.indexOf(level));
  const emit = (l: number, tag: string) => (msg: string) => { if (l >= at) process.stderr.write(`[promptgraph ${tag}] ${msg}\n`); };
  return { debug: emit(0, 'debug'), info: emit(1, 'info'), warn: emit(2, 'warn') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };
