// What the per-method exporters (prompt.ts, deep.ts, lora.ts) share with the driver
// (pipelines/export.ts): the error type, the exporter contract, and small file helpers.
//
// An exporter turns one method of a (possibly composed) graph into one sub-artifact: the graph
// nodes whose values it writes (the driver makes them outputs, so the fold pass turns computed
// ones such as a prefix MLP or a p-tuning encoder into constants), and PEFT's adapter_config.json
// for them, or null where PEFT has no layout for the method's configuration. Loading goes back:
// a sub-artifact's config and tensors to a method spec and its parameter values.

import { access, readFile } from 'node:fs/promises';
import type { Graph } from '../../graph/index.js';
import type { MethodSpec } from '../../methods/index.js';
import type { ModelConfig } from '../../models/index.js';
import type { HostTensor, ParamStore } from '../../ops/index.js';
import { decodeOrThrow } from '../../util/decode.js';
import type * as t from 'io-ts';

/** What export needs of a model (pipelines/model.ts's LoadedModel fits). */
export interface ExportModel {
  readonly config: ModelConfig;
  readonly weights: ParamStore;
  readonly label?: string;
}

export class ExportError extends Error {
  override name = 'ExportError';
}

/** The tensor PEFT's prompt-learning types save (PREFIX_TUNING, PROMPT_TUNING, P_TUNING). */
export const PEFT_TENSOR = 'prompt_embeddings';

export interface PlanContext {
  readonly config: ModelConfig;
  readonly spec: MethodSpec;
  /** The whole composed graph (all methods and heads applied), before folding. */
  readonly graph: Graph;
  /** The trainable parameters this method declared (not those of the other methods or heads). */
  readonly trainable: readonly string[];
  /** adapter_config.json fields every PEFT type has (task_type, base model, inference_mode...). */
  readonly peftCommon: Readonly<Record<string, unknown>>;
}

export interface PartPlan {
  /** The sub-artifact's tensors: name in adapter_model.safetensors -> id of the node computing it. */
  readonly tensors: ReadonlyMap<string, number>;
  /** PEFT's adapter_config.json, or null: PEFT cannot load this part, and none is written. */
  readonly adapterConfig: Readonly<Record<string, unknown>> | null;
  /** What a reader must know: why PEFT cannot load it, or what PEFT reproduces of it. */
  readonly note?: string;
  /**
   * The method's trainable parameters the tensors do not stand for (p-tuning's `tuneLm` LM
   * weights): loading takes them from the training state. Default none.
   */
  readonly carried?: readonly string[];
}

export interface LoadContext {
  /** The sub-artifact directory (for messages). */
  readonly dir: string;
  readonly config: ModelConfig;
  /** adapter_config.json, when the sub-artifact has one. */
  readonly adapterConfig?: Readonly<Record<string, unknown>>;
  readonly tensors: ReadonlyMap<string, HostTensor>;
  /** The trained spec from our promptgraph.json; absent for an artifact PEFT wrote. */
  readonly spec?: MethodSpec;
}

export interface LoadedPart {
  /** A spec that rebuilds the method's inference graph from `params` (no reparameterization). */
  readonly spec: MethodSpec;
  readonly params: ParamStore;
}

export interface PartExporter {
  /** Our method names it exports. */
  readonly methods: readonly string[];
  /** PEFT types it loads from an artifact PEFT wrote (no promptgraph.json). */
  readonly peftTypes: readonly string[];
  plan(ctx: PlanContext): PartPlan;
  load(ctx: LoadContext): LoadedPart;
}

/** The method's config (the spec without `method`), decoded with its codec. */
export function methodConfig<C>(codec: t.Type<C, unknown, unknown>, spec: MethodSpec): C {
  const { method: _m, ...rest } = spec;
  return decodeOrThrow(codec, rest, `method spec (${spec.method})`);
}

/** PEFT's PromptLearningConfig fields (shared by PREFIX_TUNING, PROMPT_TUNING, P_TUNING). */
export function promptLearningFields(config: ModelConfig, virtualTokens: number): Record<string, unknown> {
  return {
    num_virtual_tokens: virtualTokens, token_dim: config.dim, num_transformer_submodules: 1,
    num_attention_heads: config.heads, num_layers: config.layers,
  };
}

/** The one tensor `name` with shape `shape`, or an error naming the file, tensor and both shapes. */
export function tensorOfShape(ctx: LoadContext, name: string, shape: readonly number[]): HostTensor {
  const x = ctx.tensors.get(name);
  if (!x) throw new ExportError(`${ctx.dir}/adapter_model.safetensors: no '${name}' tensor (it has: ${[...ctx.tensors.keys()].join(', ') || 'none'})`);
  if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
    throw new ExportError(`${ctx.dir}/adapter_model.safetensors: ${name} shape: artifact [${x.shape.join(', ')}], backbone needs [${shape.join(', ')}]`);
  }
  return x;
}

/** A positive integer field of adapter_config.json, or an error naming it. */
export function intField(ctx: LoadContext, field: string): number {
  const v = ctx.adapterConfig?.[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new ExportError(`${ctx.dir}/adapter_config.json: ${field}: expected a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses a JSON object file; undefined when the file does not exist. */
export async function readJsonObject(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ExportError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ExportError(`${path}: not a JSON object`);
  return v as Record<string, unknown>;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
