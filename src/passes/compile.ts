// compile: runs a pipeline of passes over a graph, validating the IR between passes and keeping
// the graph after every pass so any stage can be printed; then plans memory and generates the
// WGSL of every kernel.

import { validate, type Graph } from '../graph/index.js';
import { DEFAULT_TARGET, decodeAttrs, getOp, opSchemas, type Kernel, type KernelTarget } from '../ops/index.js';
import type { ParamStore } from '../ops/index.js';
import { autodiffPass, type AutodiffOptions } from './autodiff.js';
import { csePass } from './cse.js';
import { dcePass } from './dce.js';
import { foldPass } from './fold.js';
import { freezePass, type TrainableSpec } from './freeze.js';
import { fusionPass } from './fusion.js';
import { splitConcatPass } from './split-concat.js';
import { attentionFusionPass } from './attention-fusion.js';
import { unmarkPass } from './unmark.js';
import { inferencePass } from './inference.js';
import { shardPass } from './shard.js';
import { checkFrozenStorage, halfStoragePass, type FrozenStorage } from './half-storage.js';
import { planMemory, type MemoryPlan } from './memory.js';
import { adamwPass, type AdamWOptions } from './optimizer.js';
import { padsToConcatPass } from './pads-to-concat.js';
import { CompileError, type Pass, type PassContext, type Property } from './pass.js';

export interface CompileOptions {
  /** Kernel target (the device's, or a conservative default for inspection). */
  target?: KernelTarget;
  /** Parameter values; needed for folding (skipped without them). Folded values are added. */
  params?: ParamStore;
  /** Which parameters train (names or scope patterns); default: the graph's own marks. */
  trainable?: TrainableSpec;
  /** Compile a training step: backward, and an optimizer unless `optimizer: false`. */
  train?: boolean;
  optimizer?: AdamWOptions | false;
  autodiff?: AutodiffOptions;
  fuse?: boolean;
  /** Fuse attention blocks into `attention` ops before autodiff (default: on unless `fuse: false`). */
  fuseAttention?: boolean;
  fold?: boolean;
  /** How frozen parameters are stored on the device: 'f16' halves their memory, arithmetic stays f32 (needs target.f16; default 'f32'). */
  frozenStorage?: FrozenStorage;
  /** Replace the default pipeline altogether. */
  passes?: readonly Pass[];
}

export interface Stage {
  readonly pass: string;
  readonly graph: Graph;
  readonly changed: boolean;
  readonly ms: number;
}

export interface Compiled {
  /** `input` first, then one stage per pass. */
  readonly stages: readonly Stage[];
  readonly graph: Graph;
  readonly plan: MemoryPlan;
  /** The WGSL kernel of every computing node, in schedule order. */
  readonly kernels: ReadonlyMap<number, Kernel>;
  readonly params: ParamStore;
  readonly notes: readonly string[];
  readonly target: KernelTarget;
}

export function defaultPipeline(opts: CompileOptions): Pass[] {
  const passes: Pass[] = [freezePass(opts.trainable), unmarkPass, shardPass];
  if (opts.fuseAttention ?? opts.fuse !== false) passes.push(attentionFusionPass);
  if (opts.train) {
    passes.push(autodiffPass(opts.autodiff));
    if (opts.optimizer !== false) passes.push(adamwPass(opts.optimizer ?? {}));
    passes.push(padsToConcatPass); // slice gradients summed as pads become one concat
  } else {
    passes.push(inferencePass);
  }
  passes.push(dcePass, csePass);
  if (opts.fold !== false && opts.params) passes.push(foldPass(), dcePass);
  if (opts.frozenStorage === 'f16') passes.push(halfStoragePass);
  if (opts.fuse !== false) passes.push(fusionPass);
  passes.push(splitConcatPass); // legalization: every concat within the binding limit
  return passes;
}

export function compile(graph: Graph, opts: CompileOptions = {}): Compiled {
  const target = opts.target ?? DEFAULT_TARGET;
  checkFrozenStorage(opts.frozenStorage, target);
  const ctx: PassContext = { target, params: opts.params ?? new Map(), notes: [] };
  validate(graph, opSchemas);
  const stages: Stage[] = [{ pass: 'input', graph, changed: false, ms: 0 }];
  const established = new Set<Property>();
  let g = graph;
  for (const pass of opts.passes ?? defaultPipeline(opts)) {
    const missing = pass.requires.filter((p) => !established.has(p));
    if (missing.length) throw new CompileError(`pass '${pass.name}' requires ${missing.join(', ')}, which no earlier pass ensures`);
    const t0 = performance.now();
    const r = pass.run(g, ctx);
    try {
      validate(r.graph, opSchemas);
    } catch (e) {
      if (e instanceof Error) e.message = `after pass '${pass.name}': ${e.message}`;
      throw e;
    }
    g = r.graph;
    for (const p of pass.ensures) established.add(p);
    stages.push({ pass: pass.name, graph: g, changed: r.changed, ms: performance.now() - t0 });
  }
  const plan = planMemory(g);
  return { stages, graph: g, plan, kernels: generateKernels(g, target, plan.viewOf), params: ctx.params, notes: ctx.notes, target };
}

/** WGSL for every node that computes (sources are bound, not computed; views read their source's buffer). */
export function generateKernels(graph: Graph, target: KernelTarget, views: ReadonlyMap<number, number> = new Map()): Map<number, Kernel> {
  const kernels = new Map<number, Kernel>();
  for (const n of graph.nodes) {
    if (n.op === 'input' || n.op === 'param' || views.has(n.id)) continue;
    const def = getOp(n.op);
    if (!def.kernel) throw new CompileError(`op '${n.op}' (%${n.id} @${n.scope}) has no WGSL kernel`);
    kernels.set(n.id, def.kernel({ inputs: n.inputs.map((i) => graph.node(i).type), output: n.type, attrs: decodeAttrs(def, n.attrs, `%${n.id}`), target }));
  }
  return kernels;
}

/** The graph as it was after `pass` (or `input`). */
export function graphAfter(c: Compiled, pass: string): Graph {
  const found = [...c.stages].reverse().find((s) => s.pass === pass);
  if (!found) throw new CompileError(`no pass '${pass}' in this compilation; passes: ${c.stages.map((s) => s.pass).join(', ')}`);
  return found.graph;
}
