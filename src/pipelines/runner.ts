// Creating the step runner for a compiled program on the chosen executor.

import { compile, type CompileOptions, type Compiled } from '../passes/compile.js';
import type { Graph } from '../graph/index.js';
import { DEFAULT_TARGET } from '../ops/registry.js';
import type { ParamStore } from '../ops/host.js';
import { CpuProgram, Program, type StepRunner } from '../runtime/program.js';
import { GpuContext, type GpuOptions } from '../runtime/gpu.js';

export type ExecutorKind = 'webgpu' | 'cpu';

export interface Runner {
  readonly runner: StepRunner;
  readonly compiled: Compiled;
  readonly device: string;
  readonly ctx?: GpuContext;
  release(): void;
}

/** A shared device for the process; released by releaseSharedGpu() (the CLI does it on exit). */
let shared: Promise<GpuContext> | undefined;
export function sharedGpu(opts: GpuOptions = {}): Promise<GpuContext> {
  shared ??= GpuContext.acquire(opts);
  return shared;
}
export async function releaseSharedGpu(): Promise<void> {
  if (!shared) return;
  const s = shared;
  shared = undefined;
  (await s.catch(() => undefined))?.release();
}

/** Compiles `graph` for the executor's kernel target and loads it with `params`. */
export async function createRunner(kind: ExecutorKind, graph: Graph, opts: CompileOptions, params: ParamStore): Promise<Runner> {
  if (kind === 'cpu') {
    // The reference executor holds f16 storage as well as any device (half-storage).
    const target = opts.frozenStorage === 'f16' ? { ...DEFAULT_TARGET, f16: true } : DEFAULT_TARGET;
    const compiled = compile(graph, { ...opts, target, params: new Map(params) });
    return { runner: new CpuProgram(compiled, params), compiled, device: 'cpu (reference executor)', release: () => undefined };
  }
  const ctx = await sharedGpu();
  const compiled = compile(graph, { ...opts, target: ctx.target, params: new Map(params) });
  const program = await Program.create(ctx, compiled, params);
  return { runner: program, compiled, device: ctx.adapter.description || ctx.adapter.name, ctx, release: () => program.release() };
}
