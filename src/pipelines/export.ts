// Export of trained methods as PEFT-compatible artifact directories (loading back: export/load.ts).
// One method spec writes one flat directory; a composition (e.g. [prefix-tuning, lora]) writes
// one sub-artifact per method, `OUT/<i>-<method>/`, each in PEFT's layout where PEFT has one:
//   adapter_config.json          PEFT's config (omitted where PEFT has no layout: see export/deep.ts)
//   adapter_model.safetensors    PEFT's tensors: `prompt_embeddings` (prompt methods) or LoRA factors
// and at the top:
//   promptgraph.json             our metadata: the parts (dir, spec, PEFT type, notes), heads,
//                                backbone dims and graph hash, the fold check
//   training_state.safetensors   the unfolded trained parameters of all parts and heads, to resume
// Each method's exporter (export/prompt.ts, deep.ts, lora.ts) names the graph nodes it writes;
// they become outputs, the compiler's `fold` pass (all parameters frozen) turns computed ones
// (prefix MLP, p-tuning encoder) into constants, and the whole folded graph is checked against
// the unfolded one on a fixed batch on the CPU executor.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Graph } from '../graph/index.js';
import { compose, headNames, MethodSpecCodec, type MethodResult, type MethodSpec } from '../methods/index.js';
import { buildBackbone, writeSafetensors, type ModelConfig } from '../models/index.js';
import { hostTensor, initParams, randomTensor, type Feeds, type HostTensor, type ParamStore } from '../ops/index.js';
import { compile } from '../passes/index.js';
import { CpuExecutor } from '../runtime/index.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { decodeOrThrow } from '../util/decode.js';
import { ExportError, PEFT_TENSOR, type ExportModel, type PartPlan } from './export/common.js';
import { ARTIFACT_FORMAT, backboneHash, type ArtifactMeta } from './export/meta.js';
import { exporterFor } from './export/registry.js';

export { ExportError, type ExportModel } from './export/common.js';
export { ARTIFACT_FORMAT, backboneHash, type ArtifactMeta, type PartMeta } from './export/meta.js';
export { loadArtifact, type LoadedArtifact } from './export/load.js';

export interface ExportOptions {
  readonly model: ExportModel;
  /** The method specs, applied in order (head specs among them are taken as heads). */
  readonly methodSpecs?: readonly unknown[];
  /** One method spec (the single-method form of `methodSpecs`). */
  readonly methodSpec?: unknown;
  /** Head specs applied after the methods (their parameters go into the training state). */
  readonly heads?: readonly unknown[];
  /** Trained values of the methods' (and heads') trainable parameters. */
  readonly params: ParamStore;
  readonly out: string;
  /** `base_model_name_or_path` (default: the model's label). */
  readonly baseModel?: string;
}

export interface ExportedPart {
  /** The sub-artifact directory (`out` itself for a single method). */
  readonly dir: string;
  readonly method: string;
  /** PEFT's type, or null: PEFT cannot load this part (no adapter_config.json written). */
  readonly peftType: string | null;
  readonly tensors: ReadonlyMap<string, HostTensor>;
  readonly note?: string;
}

export interface ExportResult {
  /** Largest |folded - unfolded| over the graph's outputs on the check batch. */
  readonly maxAbsDiff: number;
  /** The first part's `prompt_embeddings`, when it has one. */
  readonly prompt?: HostTensor;
  readonly parts: readonly ExportedPart[];
  /** Parameters of the folded graph that hold folded values. */
  readonly folded: readonly string[];
  readonly files: readonly string[];
}

export const FOLD_TOLERANCE = 1e-5;
const EXPORT_OUTPUT = 'export.';

/**
 * The fixed check batch: [2, S] ids from a seeded stream, the second row's last position padded;
 * `prompt_positions` (p-tuning) s - r in row r: virtual tokens first in row 0, after one real
 * token in row 1 (indices outside 0..P-1 mean a real token).
 */
export function checkFeeds(graph: Graph, config: ModelConfig): Feeds {
  const feeds: Record<string, HostTensor> = {};
  for (const n of graph.inputs()) {
    const name = String(n.attrs.name), shape = n.type.shape;
    const count = shape.reduce((a, b) => a * b, 1);
    if (name === 'input_ids') feeds[name] = randomTensor(shape, 11, { dtype: 'i32', low: 0, high: config.vocabSize });
    else if (name === 'attention_mask') feeds[name] = hostTensor(shape, 'i32', Array.from({ length: count }, (_, i) => (i === count - 1 ? 0 : 1)));
    else if (name === 'prompt_positions') feeds[name] = hostTensor(shape, 'i32', Array.from({ length: count }, (_, i) => (i % shape[1]) - Math.floor(i / shape[1])));
    else feeds[name] = hostTensor(shape, n.type.dtype, new Array<number>(count).fill(0));
  }
  return feeds;
}

interface Built { readonly method: MethodResult; readonly params: ParamStore }

/** Positions the specs add (prompt length or deep prompt length), to size the check batch. */
function addedPositions(specs: readonly MethodSpec[]): number {
  return specs.reduce((n, s) => n + (typeof s.length === 'number' && Number.isSafeInteger(s.length) ? s.length : 0), 0);
}

/** Methods (and heads) applied to a [2, S] backbone; trained values over the init. */
function build(model: ExportModel, specs: readonly unknown[], trained: ParamStore): Built {
  const decoded = specs.map((s, i) => decodeOrThrow(MethodSpecCodec, s, specs.length > 1 ? `method spec [${i}]` : 'method spec'));
  const S = Math.max(1, Math.min(8, model.config.positions - addedPositions(decoded)));
  const method = compose(buildBackbone(model.config, { batch: 2, seq: S, labels: false }), specs);
  const missing = method.trainable.filter((n) => !trained.has(n));
  if (missing.length) throw new ExportError(`the trained parameters lack ${missing.join(', ')}`);
  return { method, params: initParams(method.graph, 0, new Map([...model.weights, ...trained])) };
}

function outputsOf(g: Graph): string[] {
  return [...g.outputs.keys()].filter((k) => !k.startsWith(EXPORT_OUTPUT));
}

/** Runs `graph` compiled with every parameter frozen, folded or not, on the CPU executor. */
function runFrozen(graph: Graph, params: ParamStore, feeds: Feeds, fold: boolean): { outputs: Map<string, HostTensor>; graph: Graph; params: ParamStore } {
  const c = compile(graph, { params: new Map(params), trainable: [], fold, fuse: false });
  const outputs = new CpuExecutor('f32').runSync(c.graph, feeds, c.params, outputsOf(graph));
  return { outputs, graph: c.graph, params: c.params };
}

export function maxAbsDiff(a: ReadonlyMap<string, HostTensor>, b: ReadonlyMap<string, HostTensor>): number {
  let m = 0;
  for (const [k, x] of a) {
    const y = b.get(k);
    if (!y || y.data.length !== x.data.length) throw new ExportError(`output '${k}' differs in shape`);
    for (let i = 0; i < x.data.length; i++) m = Math.max(m, Math.abs(x.data[i] - y.data[i]));
  }
  return m;
}

/** Runs `specs` with `params` over a [2, S] backbone on the check batch (CPU, no folding). */
export function runMethod(model: ExportModel, specs: readonly unknown[], params: ParamStore): Map<string, HostTensor> {
  const b = build(model, specs, params);
  return runFrozen(b.method.graph, b.params, checkFeeds(b.method.graph, model.config), false).outputs;
}

function taskType(config: ModelConfig, heads: readonly string[], headSpecs: readonly unknown[]): string | null {
  const task = headSpecs.map((h) => (h as { task?: unknown }).task).find((t) => typeof t === 'string');
  if (heads.length && task === 'sequence-classification') return 'SEQ_CLS';
  if (heads.length && task === 'token-classification') return 'TOKEN_CLS';
  if (heads.length && task === 'question-answering') return 'QUESTION_ANS';
  return config.kind === 'gpt2' ? 'CAUSAL_LM' : null;
}

/** The method specs and head specs of the options, decoded; head specs keep their order. */
function splitSpecs(opts: ExportOptions): { methods: MethodSpec[]; heads: unknown[] } {
  if (opts.methodSpecs !== undefined && opts.methodSpec !== undefined) throw new ExportError('give methodSpecs or methodSpec, not both');
  const all = opts.methodSpecs ?? (opts.methodSpec === undefined ? [] : [opts.methodSpec]);
  const decoded = all.map((s, i) => decodeOrThrow(MethodSpecCodec, s, all.length > 1 ? `method spec [${i}]` : 'method spec'));
  const methods = decoded.filter((s) => s.method !== 'head');
  if (methods.length === 0) throw new ExportError('no method to export: give at least one method spec (prefix-tuning, p-tuning-v2, prompt-tuning, p-tuning, lora)');
  return { methods, heads: [...decoded.filter((s) => s.method === 'head'), ...(opts.heads ?? [])] };
}

/** Each method's own trainable parameters: what composing it onto the ones before added. */
function trainableByPart(config: ModelConfig, specs: readonly MethodSpec[]): string[][] {
  if (specs.length === 1) return [compose(buildBackbone(config, { batch: 1, seq: 1, labels: false }), specs).trainable.slice()];
  const seen = new Set<string>();
  return specs.map((_, i) => {
    const mine = compose(buildBackbone(config, { batch: 1, seq: 1, labels: false }), specs.slice(0, i + 1)).trainable.filter((n) => !seen.has(n));
    for (const n of mine) seen.add(n);
    return mine;
  });
}

export async function exportArtifact(opts: ExportOptions): Promise<ExportResult> {
  const { model, out } = opts;
  const { config } = model;
  const { methods: specs, heads: headSpecs } = splitSpecs(opts);
  const exporters = specs.map((s) => exporterFor(s.method));
  const b = build(model, [...specs, ...headSpecs], opts.params);
  const heads = headNames(b.method.graph);
  const owned = trainableByPart(config, specs);
  const peftCommon = {
    task_type: taskType(config, heads, headSpecs), base_model_name_or_path: opts.baseModel ?? model.label ?? null, revision: null, inference_mode: true,
  };

  // (a) fold: every tensor a part writes becomes an output, so what computes it folds to a constant.
  const g = b.method.graph.clone();
  const plans: PartPlan[] = specs.map((spec, i) => exporters[i].plan({ config, spec, graph: g, trainable: owned[i], peftCommon }));
  plans.forEach((p, i) => { for (const [name, id] of p.tensors) g.setOutput(`${EXPORT_OUTPUT}${i}.${name}`, id); });
  const feeds = checkFeeds(g, config);
  const unfolded = runFrozen(g, b.params, feeds, false);
  const folded = runFrozen(g, b.params, feeds, true);
  const diff = maxAbsDiff(unfolded.outputs, folded.outputs);
  if (!(diff <= FOLD_TOLERANCE)) throw new ExportError(`the folded graph's outputs differ from the unfolded graph's by ${diff} (> ${FOLD_TOLERANCE})`);
  const values = plans.map((p, i) => new Map([...p.tensors.keys()].map((name) => {
    const node = folded.graph.node(folded.graph.outputs.get(`${EXPORT_OUTPUT}${i}.${name}`)!);
    if (node.op !== 'param') throw new ExportError(`${specs[i].method}: ${name} did not fold to a constant (it is computed by '${node.op}')`);
    return [name, folded.params.get(String(node.attrs.name))!] as const;
  })));
  const foldedNames = folded.graph.params().map((p) => String(p.attrs.name)).filter((n) => n.startsWith('folded.'));

  // (b) the artifact: one flat directory for one method, a subdirectory per part for several.
  const dirs = specs.length === 1 ? ['.'] : specs.map((s, i) => `${i}-${s.method}`);
  const files: string[] = [];
  const parts: ExportedPart[] = [];
  for (const [i, p] of plans.entries()) {
    const dir = join(out, dirs[i]);
    await mkdir(dir, { recursive: true });
    if (p.adapterConfig) {
      files.push(join(dir, 'adapter_config.json'));
      await writeJsonAtomic(files[files.length - 1], p.adapterConfig);
    }
    files.push(join(dir, 'adapter_model.safetensors'));
    await writeSafetensors(files[files.length - 1], values[i], { format: 'pt' });
    parts.push({ dir, method: specs[i].method, peftType: p.adapterConfig ? String(p.adapterConfig.peft_type) : null, tensors: values[i], ...(p.note ? { note: p.note } : {}) });
  }
  const state = new Map(b.method.trainable.map((n) => [n, b.params.get(n)!] as const));
  const meta: ArtifactMeta = {
    format: ARTIFACT_FORMAT,
    parts: specs.map((method, i) => ({ dir: dirs[i], method, peftType: parts[i].peftType, replaces: owned[i].filter((n) => !plans[i].carried?.includes(n)), ...(plans[i].note ? { note: plans[i].note } : {}) })),
    heads: headSpecs, headNames: heads,
    backbone: { kind: config.kind, layers: config.layers, dim: config.dim, heads: config.heads, vocab: config.vocabSize, graphSha256: backboneHash(config) },
    trainable: [...b.method.trainable], foldCheck: { maxAbsDiff: diff, outputs: outputsOf(g) },
  };
  files.push(join(out, 'promptgraph.json'), join(out, 'training_state.safetensors'));
  await writeJsonAtomic(join(out, 'promptgraph.json'), meta);
  await writeSafetensors(join(out, 'training_state.safetensors'), state, { format: 'pt' });
  const prompt = values[0].get(PEFT_TENSOR);
  return { maxAbsDiff: diff, ...(prompt ? { prompt } : {}), parts, folded: foldedNames, files };
}
