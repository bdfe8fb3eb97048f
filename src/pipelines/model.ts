// A backbone ready for a job: loaded from a Hugging Face checkpoint directory (or a built-in
// tiny config with random weights), built for a batch shape, with method specs applied and
// every parameter given a value. What inspect and trace share.

import { readFile } from 'node:fs/promises';
import type { Graph } from '../graph/index.js';
import { compose, type MethodResult } from '../methods/index.js';
import { bertTinyConfig, buildBert, buildGpt2, gpt2TinyConfig, loadCheckpoint, randomWeights, type ModelConfig } from '../models/index.js';
import { initParams, type ParamStore } from '../ops/index.js';

export type TinyModel = 'gpt2' | 'bert';
export const TINY_MODELS: readonly TinyModel[] = ['gpt2', 'bert'];

export type ModelSource =
  | { readonly kind: 'checkpoint'; readonly dir: string }
  | { readonly kind: 'tiny'; readonly model: TinyModel };

export interface LoadedModel {
  readonly config: ModelConfig;
  /** Backbone weights by graph parameter name. */
  readonly weights: ParamStore;
  /** What to call it in reports: the directory, or `tiny gpt2 (random weights)`. */
  readonly label: string;
}

export interface PreparedModel {
  readonly model: LoadedModel;
  readonly graph: Graph;
  readonly batch: number;
  readonly seq: number;
  /** The composed method, when specs were given. */
  readonly method?: MethodResult;
  /** Backbone weights plus the method's parameters (from their init attributes). */
  readonly params: ParamStore;
}

export class ModelSetupError extends Error {
  override name = 'ModelSetupError';
}

/** Seed of the tiny models' random weights: fixed, so every run sees the same model. */
export const TINY_WEIGHTS_SEED = 0;

export async function loadModel(src: ModelSource): Promise<LoadedModel> {
  if (src.kind === 'tiny') {
    const config = src.model === 'gpt2' ? gpt2TinyConfig() : bertTinyConfig();
    return { config, weights: randomWeights(config, TINY_WEIGHTS_SEED), label: `tiny ${src.model} (random weights)` };
  }
  const ckpt = await loadCheckpoint(src.dir);
  return { config: ckpt.config, weights: ckpt.tensors, label: src.dir };
}

/**
 * Reads a method spec file: one spec object, or an array of them applied in turn (composition).
 * The specs themselves are checked when applied (applySpec), with errors naming this file.
 */
export async function readMethodSpecs(path: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelSetupError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ModelSetupError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new ModelSetupError(`${path}: an empty array names no method; give a spec object or a non-empty array of them`);
    return value;
  }
  if (typeof value !== 'object' || value === null) {
    throw new ModelSetupError(`${path}: at $: expected a method spec object ({"method": ...}) or an array of them, got ${JSON.stringify(value)}`);
  }
  return [value];
}

export interface PrepareOptions {
  readonly batch: number;
  readonly seq: number;
  /** Build a `labels` input and `loss` output (default true). */
  readonly labels?: boolean;
  /** Method specs, applied in order (see compose). */
  readonly specs?: readonly unknown[];
  /** Where the specs came from, to name in errors. */
  readonly specFile?: string;
  /** Seed of the method parameters' init (default 0). */
  readonly seed?: number;
}

export function prepareModel(model: LoadedModel, opts: PrepareOptions): PreparedModel {
  const { config } = model;
  const { batch, seq } = opts;
  for (const [k, v] of [['batch', batch], ['seq', seq]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ModelSetupError(`${k} must be a positive integer, got ${v}`);
  }
  if (seq > config.positions) throw new ModelSetupError(`sequence length ${seq} exceeds the model's ${config.positions} positions`);
  const shape = { batch, seq, labels: opts.labels ?? true };
  // A BERT checkpoint may lack the (optional) pooler: build it only when its weights exist.
  const graph = config.kind === 'gpt2' ? buildGpt2(config, shape) : buildBert(config, { ...shape, pooler: model.weights.has('pooler.dense.weight') });
  let method: MethodResult | undefined;
  if (opts.specs && opts.specs.length > 0) {
    try {
      method = compose(graph, opts.specs);
    } catch (e) {
      if (e instanceof Error && opts.specFile) e.message = `${opts.specFile}: ${e.message}`;
      throw e;
    }
  }
  const g = method?.graph ?? graph;
  return { model, graph: g, batch, seq, ...(method ? { method } : {}), params: initParams(g, opts.seed ?? 0, model.weights) };
}

/** Names of the trainable parameters of a prepared graph, in graph order. */
export function trainableNames(p: PreparedModel): string[] {
  return p.graph.params().filter((n) => n.attrs.trainable === true).map((n) => String(n.attrs.name));
}
