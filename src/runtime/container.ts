// Wiring: which executor and logger the CLI and pipelines get, chosen by options or env
// (PROMPTGRAPH_EXECUTOR=cpu|webgpu, PROMPTGRAPH_LOG=debug|info|warn|silent).

import { Container } from 'inversify';
import { CpuExecutor } from './cpu-executor.js';
import { GpuContext, type GpuOptions } from './gpu.js';
import { GpuExecutor } from './gpu-executor.js';
import { consoleLogger, type Logger, type LogLevel } from './logger.js';
import type { Executor } from './executor.js';

export const TOKENS = {
  Logger: Symbol.for('promptgraph.Logger'),
  GpuOptions: Symbol.for('promptgraph.GpuOptions'),
  GpuContext: Symbol.for('promptgraph.GpuContext'),
  Executor: Symbol.for('promptgraph.Executor'),
} as const;

export interface RuntimeOptions extends GpuOptions {
  executor?: 'cpu' | 'webgpu';
  logLevel?: LogLevel;
}

export interface Runtime {
  readonly container: Container;
  executor(): Promise<Executor>;
  gpu(): Promise<GpuContext>;
  /** Releases the device if one was acquired, so the process can exit. */
  dispose(): void;
}

/** A runtime whose GpuContext is acquired on first use. */
export function createRuntime(opts: RuntimeOptions = {}): Runtime {
  const c = new Container();
  const logger = opts.logger ?? consoleLogger(opts.logLevel);
  const kind = opts.executor ?? ((process.env.PROMPTGRAPH_EXECUTOR as 'cpu' | 'webgpu' | undefined) ?? 'webgpu');
  if (kind !== 'cpu' && kind !== 'webgpu') throw new Error(`executor must be 'cpu' or 'webgpu', got '${String(kind)}'`);
  let acquired: GpuContext | undefined;
  c.bind<Logger>(TOKENS.Logger).toConstantValue(logger);
  c.bind<GpuOptions>(TOKENS.GpuOptions).toConstantValue({ ...opts, logger });
  c.bind<GpuContext>(TOKENS.GpuContext).toDynamicValue(async (ctx) => (acquired = await GpuContext.acquire(ctx.get<GpuOptions>(TOKENS.GpuOptions)))).inSingletonScope();
  c.bind<Executor>(TOKENS.Executor).toDynamicValue(async (ctx) =>
    kind === 'cpu' ? new CpuExecutor('f32') : new GpuExecutor(await ctx.getAsync<GpuContext>(TOKENS.GpuContext)),
  ).inSingletonScope();
  return {
    container: c,
    executor: () => c.getAsync<Executor>(TOKENS.Executor),
    gpu: () => c.getAsync<GpuContext>(TOKENS.GpuContext),
    dispose: () => acquired?.release(),
  };
}
