// One model's compiled decode programs, made once per shape and kept: on the device (Program)
// or on the CPU reference (CpuProgram). Counts compilations and their cost: on lavapipe each
// kernel's pipeline is made at creation and JIT-compiled by llvmpipe at its first dispatch,
// which together dominate a short generation (so programs are few and reused).

import type { Graph } from '../../graph/index.js';
import { hostZeros } from '../../ops/index.js';
import { compile } from '../../passes/compile.js';
import { CpuProgram, Program, type StepRunner } from '../../runtime/program.js';
import type { GpuContext } from '../../runtime/gpu.js';
import { cacheParams } from '../../models/decode.js';
import type { LanguageModel } from './graphs.js';

export type Device = 'cpu' | 'webgpu';

export interface ProgramStats {
  /** Programs compiled (graph passes + kernels, and pipelines on the device). */
  compiles: number;
  /** Graph building and compiler passes. */
  compileMs: number;
  /** Program creation: parameter upload and pipeline creation (device only). */
  createMs: number;
  /** Kernels dispatched per step, summed over the programs. */
  kernels: number;
}

/** A compiled program and what the decode models track on it. */
export interface DecodeProgram {
  readonly runner: StepRunner;
  /** The graph as built, before compilation. */
  readonly graph: Graph;
  /** Bumped whenever a step changes the program's resident cache (stale-cache guard). */
  epoch: number;
}

export class Programs {
  private readonly made = new Map<string, Promise<DecodeProgram>>();
  readonly stats: ProgramStats = { compiles: 0, compileMs: 0, createMs: 0, kernels: 0 };

  constructor(readonly device: Device, readonly model: LanguageModel, private readonly ctx?: GpuContext) {
    if (device === 'webgpu' && !ctx) throw new Error("Programs: the 'webgpu' device needs a GpuContext");
  }

  /** The program for `key`, compiling `build(model)` the first time. */
  get(key: string, build: (model: LanguageModel) => Graph): Promise<DecodeProgram> {
    let p = this.made.get(key);
    if (!p) {
      p = this.make(build);
      this.made.set(key, p);
      p.catch(() => this.made.delete(key));
    }
    return p;
  }

  private async make(build: (model: LanguageModel) => Graph): Promise<DecodeProgram> {
    const t0 = performance.now();
    const graph = build(this.model);
    // Everything frozen, so fold evaluates frozen-only subgraphs (a prefix MLP) once.
    const compiled = compile(graph, { params: new Map(this.model.weights), trainable: [], ...(this.ctx ? { target: this.ctx.target } : {}) });
    const t1 = performance.now();
    const params = new Map(this.model.weights);
    for (const name of cacheParams(compiled.graph)) params.set(name, hostZeros(compiled.graph.params().find((p) => p.attrs.name === name)!.type));
    let runner: StepRunner;
    if (this.device === 'webgpu') {
      const program = await Program.create(this.ctx!, compiled, params);
      this.stats.kernels += program.kernelCount;
      runner = program;
    } else {
      runner = new CpuProgram(compiled, params);
      this.stats.kernels += compiled.kernels.size;
    }
    this.stats.compiles++;
    this.stats.compileMs += t1 - t0;
    this.stats.createMs += performance.now() - t1;
    return { runner, graph, epoch: 0 };
  }

  release(): void {
    for (const p of this.made.values()) p.then((d) => d.runner.release(), () => undefined);
    this.made.clear();
  }
}
