// A compiled program on the device: every buffer, pipeline and bind group is made once; a step
// writes the feeds, records all dispatches in one compute pass, copies `next:<param>` outputs
// into their parameters, and submits once. Reading results back is optional per step.

import { formatType, sameType, type Graph } from '../graph/index.js';
import type { Compiled } from '../passes/compile.js';
import { hostTensor, type Feeds, type HostTensor, type ParamStore } from '../ops/host.js';
import { deviceByteSize } from '../ops/wgsl.js';
import { evaluateReference, FeedError, storedParam } from '../ops/evaluate.js';
import type { GpuContext, GpuTensor } from './gpu.js';
import { initTensor } from '../ops/init.js';
import { OPTIM_SCOPE } from '../passes/optimizer.js';
import { autotuneCompiled, autotuneFromEnv, type AutotuneOptions } from './autotune.js';

export const NEXT_PREFIX = 'next:';

interface Dispatch {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

/**
 * `params` plus fresh optimizer state (zeros) for any the step needs and `params` lacks. Only
 * optimizer state is made up: a missing model parameter stays an error.
 */
export function withOptimizerState(graph: Graph, params: ParamStore): ParamStore {
  const out = new Map(params);
  for (const n of graph.params()) {
    const name = String(n.attrs.name);
    if (!out.has(name) && name.startsWith(`${OPTIM_SCOPE}.`)) out.set(name, initTensor(n, 0));
  }
  return out;
}

/** What runs a compiled step, on the device (Program) or on the CPU reference (CpuProgram). */
export interface StepRunner {
  run(feeds: Feeds, read?: readonly string[]): Promise<Map<string, HostTensor>>;
  readParams(names?: readonly string[]): Promise<ParamStore>;
  writeParam(name: string, value: HostTensor): void;
  release(): void;
}

/** The same contract on the CPU reference executor: the oracle for training on the device. */
export class CpuProgram implements StepRunner {
  private readonly params: ParamStore;

  constructor(readonly compiled: Compiled, params: ParamStore, readonly precision: 'f32' | 'f64' = 'f32') {
    this.params = withOptimizerState(compiled.graph, new Map([...compiled.params, ...params]));
  }

  async run(feeds: Feeds, read: readonly string[] = []): Promise<Map<string, HostTensor>> {
    const g = this.compiled.graph;
    const values = evaluateReference(g, feeds, this.params, this.precision);
    const out = new Map(read.map((name) => [name, values.get(g.output(name).id)!] as const));
    for (const [name, id] of g.outputs) {
      if (name.startsWith(NEXT_PREFIX) && this.params.has(name.slice(NEXT_PREFIX.length))) this.params.set(name.slice(NEXT_PREFIX.length), values.get(id)!);
    }
    return out;
  }

  async readParams(names: readonly string[] = [...this.params.keys()]): Promise<ParamStore> {
    return new Map(names.map((n) => {
      const v = this.params.get(n);
      if (!v) throw new Error(`program has no parameter '${n}'`);
      return [n, v] as const;
    }));
  }

  writeParam(name: string, value: HostTensor): void {
    if (!this.params.has(name)) throw new Error(`program has no parameter '${name}'`);
    this.params.set(name, value);
  }

  release(): void {}
}

export interface ProgramOptions {
  /** Time the matmul variants on this device (or read the cache) before compiling the kernels. */
  autotune?: boolean | AutotuneOptions;
}

export class Program implements StepRunner {
  private constructor(
    readonly ctx: GpuContext,
    readonly graph: Graph,
    private readonly buffers: Map<number, GPUBuffer>,
    private readonly owned: GPUBuffer[],
    private readonly dispatches: readonly Dispatch[],
    private readonly inputs: Map<string, { id: number; type: Graph['nodes'][number]['type'] }>,
    private readonly paramIds: Map<string, number>,
    /** [output node, parameter node] pairs copied after each step. */
    private readonly updates: readonly [number, number][],
    /** Frozen tensors whose device copies are shared with other programs. */
    private readonly shared: HostTensor[],
    private readonly frozen: ReadonlySet<string>,
  ) {}

  /**
   * Allocates buffers per the memory plan, uploads parameters, compiles every kernel. With
   * `autotune` (default: env PROMPTGRAPH_AUTOTUNE=1) the matmul kernels are first re-chosen by
   * timing on this device, or from the per-adapter cache (runtime/autotune.ts).
   */
  static async create(ctx: GpuContext, compiledIn: Compiled, given: ParamStore, opts: ProgramOptions = {}): Promise<Program> {
    const tune = opts.autotune ?? autotuneFromEnv();
    const compiled = tune ? (await autotuneCompiled(ctx, compiledIn, tune === true ? {} : tune)).compiled : compiledIn;
    const g = compiled.graph;
    const params = withOptimizerState(g, given);
    const buffers = new Map<number, GPUBuffer>();
    const owned: GPUBuffer[] = [];
    const make = (bytes: number): GPUBuffer => {
      const b = ctx.allocate({ shape: [bytes / 4], dtype: 'f32' }).buffer;
      owned.push(b);
      return b;
    };
    const slots = compiled.plan.slotBytes.map(make);
    const inputs = new Map<string, { id: number; type: Graph['nodes'][number]['type'] }>();
    const paramIds = new Map<string, number>();
    const updated = new Set([...g.outputs.keys()].filter((k) => k.startsWith(NEXT_PREFIX)).map((k) => k.slice(NEXT_PREFIX.length)));
    const shared: HostTensor[] = [];
    const frozen = new Set<string>();
    for (const n of g.nodes) {
      if (n.op === 'param') {
        const name = String(n.attrs.name);
        const raw = params.get(name) ?? compiled.params.get(name);
        if (!raw) throw new FeedError(`no value for parameter '${name}' (${formatType(n.type)})`);
        // f16 where half-storage stores it so: converted once per tensor, and so still shared.
        const value = storedParam(n, raw);
        if (n.attrs.trainable !== true && !updated.has(name)) {
          // Read-only: shared with every other program that binds the same tensor.
          buffers.set(n.id, ctx.shareFrozen(value));
          shared.push(value);
          frozen.add(name);
        } else {
          const t = ctx.upload(value);
          owned.push(t.buffer);
          buffers.set(n.id, t.buffer);
        }
        paramIds.set(name, n.id);
      } else if (compiled.plan.viewOf.has(n.id)) {
        buffers.set(n.id, buffers.get(compiled.plan.viewOf.get(n.id)!)!); // the same bytes, another shape
      } else if (compiled.plan.slotOf.has(n.id)) {
        buffers.set(n.id, slots[compiled.plan.slotOf.get(n.id)!]);
      } else {
        buffers.set(n.id, make(deviceByteSize(n.type)));
        if (n.op === 'input') inputs.set(String(n.attrs.name), { id: n.id, type: n.type });
      }
    }
    const dispatches: Dispatch[] = [];
    for (const n of g.nodes) {
      const k = compiled.kernels.get(n.id);
      if (!k) continue;
      const pipeline = await ctx.pipeline(k.code, n.inputs.length + 1, `${k.variant} %${n.id}@${n.scope}`);
      const bindGroup = ctx.bindGroup(n.inputs.length + 1, [...n.inputs.map((i) => buffers.get(i)!), buffers.get(n.id)!]);
      dispatches.push({ pipeline, bindGroup, workgroups: k.workgroups });
    }
    const updates: [number, number][] = [];
    for (const [name, id] of g.outputs) {
      if (!name.startsWith(NEXT_PREFIX)) continue;
      const target = paramIds.get(name.slice(NEXT_PREFIX.length));
      if (target !== undefined) updates.push([id, target]);
    }
    return new Program(ctx, g, buffers, owned, dispatches, inputs, paramIds, updates, shared, frozen);
  }

  /** Number of kernels one step dispatches. */
  get kernelCount(): number {
    return this.dispatches.length;
  }

  /**
   * Runs one step. Returns the outputs named in `read` (none by default: no host round trip);
   * parameter updates (`next:*`) are applied on the device.
   */
  async run(feeds: Feeds, read: readonly string[] = []): Promise<Map<string, HostTensor>> {
    for (const [name, { id, type }] of this.inputs) {
      const v = feeds[name];
      if (!v) throw new FeedError(`no value for input '${name}' (${formatType(type)}); given: ${Object.keys(feeds).join(', ') || 'none'}`);
      if (!sameType(v, type)) throw new FeedError(`input '${name}' expects ${formatType(type)}, got ${formatType(v)}`);
      this.ctx.write({ buffer: this.buffers.get(id)!, type }, v);
    }
    await this.ctx.submit((pass) => {
      for (const d of this.dispatches) {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.workgroups);
      }
    }, 'step', (enc) => {
      for (const [from, to] of this.updates) enc.copyBufferToBuffer(this.buffers.get(from)!, 0, this.buffers.get(to)!, 0, this.buffers.get(to)!.size);
    });
    if (read.length === 0) return new Map();
    const ids = read.map((name) => {
      const id = this.graph.outputs.get(name);
      if (id === undefined) throw new Error(`program has no output '${name}' (outputs: ${[...this.graph.outputs.keys()].join(', ')})`);
      return id;
    });
    const values = await this.ctx.downloadMany(ids.map((id) => this.tensor(id)));
    return new Map(read.map((name, i) => [name, values[i]]));
  }

  /**
   * Current values of parameters (all by default), read back from the device. Parameters stored
   * as f16 (half-storage) come back as f32 tensors, as the graph's callers gave them, holding
   * the f16-rounded values the device computes with.
   */
  async readParams(names: readonly string[] = [...this.paramIds.keys()]): Promise<ParamStore> {
    const ids = names.map((n) => {
      const id = this.paramIds.get(n);
      if (id === undefined) throw new Error(`program has no parameter '${n}'`);
      return id;
    });
    const values = await this.ctx.downloadMany(ids.map((id) => this.tensor(id)));
    return new Map(names.map((n, i) => [n, values[i].dtype === 'f16' ? hostTensor(values[i].shape, 'f32', values[i].data) : values[i]]));
  }

  writeParam(name: string, value: HostTensor): void {
    const id = this.paramIds.get(name);
    if (id === undefined) throw new Error(`program has no parameter '${name}'`);
    if (this.frozen.has(name)) throw new Error(`parameter '${name}' is frozen: its device copy is shared read-only; compile it as trainable to write it`);
    const type = this.graph.node(id).type;
    if (!sameType(type, value)) throw new FeedError(`parameter '${name}' expects ${formatType(type)}, got ${formatType(value)}`);
    this.ctx.write({ buffer: this.buffers.get(id)!, type }, value);
  }

  private tensor(id: number): GpuTensor {
    return { buffer: this.buffers.get(id)!, type: this.graph.node(id).type };
  }

  release(): void {
    for (const b of this.owned) this.ctx.free({ buffer: b, type: { shape: [], dtype: 'f32' } });
    this.owned.length = 0;
    for (const h of this.shared) this.ctx.unshareFrozen(h);
    this.shared.length = 0;
  }
}
