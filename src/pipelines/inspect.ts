// inspectModel: compiles a prepared model (backbone + method) as the trainer would and reports
// what it costs: the graph after any pass with per-node FLOPs/bytes, the step's parameters,
// FLOPs by phase, kernels and peak memory, and optionally the same against full fine-tuning.
// The `inspect` command prints this; nothing here touches a device.

import type { Graph } from '../graph/index.js';
import { DEFAULT_TARGET, type KernelTarget } from '../ops/index.js';
import {
  compile, CompileError, defaultPipeline, dependencies, inspectGraph, type CompileOptions, type Compiled, type Pass, type Property, type Report, type Summary,
} from '../passes/index.js';
import { prepareModel, type PreparedModel } from './model.js';

/** One pass of the default pipeline, and when it runs. */
export interface PassInfo {
  readonly name: string;
  readonly description: string;
  readonly requires: readonly Property[];
  readonly ensures: readonly Property[];
  readonly runs: string;
}

/** The stage before any pass, as `compile` names it. */
export const INPUT_STAGE = 'input';

/**
 * The default pipeline's passes, from the compiler itself (not a copy of its list): each one's
 * condition is found by which pipeline variants contain it.
 */
export function passCatalogue(): PassInfo[] {
  const values = { params: new Map() };
  const has = (opts: CompileOptions, name: string): boolean => defaultPipeline(opts).some((p) => p.name === name);
  const runs = (name: string): string => {
    const train = has({ train: true, optimizer: false }, name), forward = has({}, name);
    if (train && forward) return has({ fuse: false }, name) ? 'always' : 'unless `fuse: false`';
    if (forward) return 'forward (inference) graphs';
    if (has(values, name) || has({ train: true, ...values }, name) && !has({ train: true }, name)) return 'when parameter values are given';
    if (train) return 'training step';
    if (has({ train: true }, name)) return 'training step with an optimizer';
    return 'when its option is set';
  };
  // Every pass of every pipeline variant, each placed after its predecessor in its own pipeline.
  const variants: CompileOptions[] = [{ train: true, ...values }, values, ...OPTIONAL_VARIANTS.map((o) => ({ train: true, ...values, ...o }))];
  const order: Pass[] = [];
  for (const v of variants) {
    let at = 0;
    for (const p of defaultPipeline(v)) {
      const k = order.findIndex((q) => q.name === p.name);
      if (k >= 0) at = Math.max(at, k + 1);
      else order.splice(at++, 0, p);
    }
  }
  return order.map((p) => ({ name: p.name, description: p.description, requires: p.requires, ensures: p.ensures, runs: runs(p.name) }));
}

/** Options that switch on passes the default pipeline otherwise leaves out. */
const OPTIONAL_VARIANTS: CompileOptions[] = [{ frozenStorage: 'f16' }];

/** Pass names of the full default pipeline (a training step with parameter values), in order. */
export function pipelineOrder(): string[] {
  return defaultPipeline({ train: true, params: new Map() }).map((p) => p.name);
}

export interface InspectOptions {
  /** Compile a training step (backward and AdamW); default: the forward graph. */
  readonly train?: boolean;
  /** Show the graph after this pass (its last run) or `input`; default: the final graph. */
  readonly after?: string;
  /** Also compile full fine-tuning of the backbone and compare (implies `train`). */
  readonly compareFullFt?: boolean;
  readonly target?: KernelTarget;
}

export interface FullFtComparison {
  /** The full fine-tuning step's summary. */
  readonly summary: Summary;
  /** Step FLOPs of the method / of full fine-tuning. */
  readonly flopsRatio: number;
  /** Peak planned memory of the method / of full fine-tuning. */
  readonly peakMemoryRatio: number;
}

export interface ModelInspection {
  readonly prepared: PreparedModel;
  readonly compiled: Compiled;
  readonly train: boolean;
  /** The stage shown (`input`, a pass name, or the last pass). */
  readonly stage: string;
  readonly graph: Graph;
  /** Per-node costs and summary of the graph shown. */
  readonly report: Report;
  /** Summary of the compiled (final) graph: what one step costs. */
  readonly summary: Summary;
  readonly fullFt?: FullFtComparison;
}

export class InspectError extends Error {
  override name = 'InspectError';
}

export function inspectModel(prepared: PreparedModel, opts: InspectOptions = {}): ModelInspection {
  const train = opts.train === true || opts.compareFullFt === true;
  const target = opts.target ?? DEFAULT_TARGET;
  const trainable = prepared.method?.trainable;
  if (train && !trainable?.length) {
    throw new InspectError('a training step needs trainable parameters: give a method spec (full fine-tuning is what --compare-full-ft compares against)');
  }
  const compiled = compile(prepared.graph, { train, target, params: new Map(prepared.params), ...(trainable ? { trainable } : {}) });
  const stage = opts.after ?? compiled.stages[compiled.stages.length - 1].pass;
  const graph = stageGraph(compiled, stage, train);
  const summary = inspectGraph(compiled.graph).summary;
  const result: ModelInspection = { prepared, compiled, train, stage, graph, report: inspectGraph(graph), summary };
  if (!opts.compareFullFt) return result;
  const full = fullFineTuning(prepared, target);
  return {
    ...result,
    fullFt: { summary: full, flopsRatio: summary.flops.total / full.flops.total, peakMemoryRatio: summary.peakBytes / full.peakBytes },
  };
}

/** The graph after `stage` (its last run), with errors that say why a pass did not run. */
export function stageGraph(compiled: Compiled, stage: string, train: boolean): Graph {
  const found = [...compiled.stages].reverse().find((s) => s.pass === stage);
  if (found) return found.graph;
  const ran = compiled.stages.map((s) => s.pass).join(', ');
  const known = passCatalogue().find((p) => p.name === stage);
  if (!known) throw new InspectError(`unknown pass '${stage}'; passes: ${[INPUT_STAGE, ...passCatalogue().map((p) => p.name)].join(', ')}`);
  const hint = !train && known.runs.startsWith('training') ? ' (it runs only when compiling a training step: add --train)' : '';
  throw new InspectError(`pass '${stage}' did not run in this compilation${hint}; passes run: ${ran}`);
}

/** The same backbone and batch with every parameter that reaches the loss trainable, no method. */
function fullFineTuning(prepared: PreparedModel, target: KernelTarget): Summary {
  const base = prepareModel(prepared.model, { batch: prepared.batch, seq: prepared.seq });
  const lossId = base.graph.outputs.get('loss');
  if (lossId === undefined) throw new CompileError('full fine-tuning needs a loss output');
  // Parameters the loss does not read (BERT's pooler) cannot train: autodiff would refuse them.
  const reach = dependencies(base.graph, lossId);
  const trainable = base.graph.params().filter((p) => reach.has(p.id)).map((p) => String(p.attrs.name));
  const c = compile(base.graph, { train: true, target, trainable, params: new Map(base.params) });
  return inspectGraph(c.graph).summary;
}
