// Export of a trained prompt method as a PEFT-compatible artifact directory:
//   adapter_config.json          PEFT's config (prefix_projection false: the prompt is folded)
//   adapter_model.safetensors    `prompt_embeddings`: [P, L*2*D] (deep prompts) or [P, D] (prompt tuning)
//   promptgraph.json             our metadata: method spec, backbone dims and graph hash, heads
//   training_state.safetensors   the unfolded trained parameters, to resume training
// The prompt is computed by the compiler's `fold` pass (method params frozen), and the folded
// graph is checked against the unfolded one on a fixed batch on the CPU executor.

import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { graphToJson, type Graph, type Node } from '../graph/index.js';
import { compose, headNames, PREFIX, PROMPT_PARAM, type MethodResult, type MethodSpec, MethodSpecCodec } from '../methods/index.js';
import { buildBackbone, readSafetensors, writeSafetensors, type ModelConfig } from '../models/index.js';
import { hostTensor, initParams, randomTensor, type Feeds, type HostTensor, type ParamStore } from '../ops/index.js';
import { compile } from '../passes/index.js';
import { CpuExecutor } from '../runtime/index.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { decodeOrThrow } from '../util/decode.js';

export class ExportError extends Error {
  override name = 'ExportError';
}

/** What export needs of a model (pipelines/model.ts's LoadedModel fits). */
export interface ExportModel {
  readonly config: ModelConfig;
  readonly weights: ParamStore;
  readonly label?: string;
}

export interface ExportOptions {
  readonly model: ExportModel;
  /** One method spec (prefix-tuning, p-tuning-v2 or prompt-tuning). */
  readonly methodSpec: unknown;
  /** Head specs applied after the method (their parameters go into the training state). */
  readonly heads?: readonly unknown[];
  /** Trained values of the method's (and heads') trainable parameters. */
  readonly params: ParamStore;
  readonly out: string;
  /** `base_model_name_or_path` (default: the model's label). */
  readonly baseModel?: string;
}

export interface ExportResult {
  /** Largest |folded - unfolded| over the graph's outputs on the check batch. */
  readonly maxAbsDiff: number;
  readonly prompt: HostTensor;
  /** Parameters of the folded graph that hold folded values. */
  readonly folded: readonly string[];
  readonly files: readonly string[];
}

export const FOLD_TOLERANCE = 1e-5;
export const ARTIFACT_FORMAT = 'promptgraph.artifact/1';
const PROMPT_OUTPUT = 'export.prompt';
const PEFT_TENSOR = 'prompt_embeddings';

type Kind = 'deep' | 'input';
const KINDS: Readonly<Record<string, Kind>> = { 'prefix-tuning': 'deep', 'p-tuning-v2': 'deep', 'prompt-tuning': 'input' };

function kindOf(method: string): Kind {
  const k = KINDS[method];
  if (!k) throw new ExportError(`export supports ${Object.keys(KINDS).join(', ')}; got '${method}'`);
  return k;
}

/** sha256 of the backbone graph (at a canonical [1, 1] shape): identifies the architecture. */
export function backboneHash(config: ModelConfig): string {
  return createHash('sha256').update(JSON.stringify(graphToJson(buildBackbone(config, { batch: 1, seq: 1, labels: false })))).digest('hex');
}

/** The fixed check batch: [2, S] ids from a seeded stream, the second row's last position padded. */
export function checkFeeds(graph: Graph, config: ModelConfig): Feeds {
  const feeds: Record<string, HostTensor> = {};
  for (const n of graph.inputs()) {
    const name = String(n.attrs.name), shape = n.type.shape;
    if (name === 'input_ids') feeds[name] = randomTensor(shape, 11, { dtype: 'i32', low: 0, high: config.vocabSize });
    else if (name === 'attention_mask') feeds[name] = hostTensor(shape, 'i32', Array.from({ length: shape[0] * shape[1] }, (_, i) => (i === shape[0] * shape[1] - 1 ? 0 : 1)));
    else feeds[name] = hostTensor(shape, n.type.dtype, new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(0));
  }
  return feeds;
}

interface Built { readonly method: MethodResult; readonly params: ParamStore; readonly P: number }

/** Method (and heads) applied to a [2, S] backbone; trained values over the init. */
function build(model: ExportModel, specs: readonly unknown[], trained: ParamStore): Built {
  const spec = decodeOrThrow(MethodSpecCodec, specs[0], 'method spec');
  const P = typeof spec.length === 'number' && Number.isSafeInteger(spec.length) ? spec.length : 0;
  const S = Math.max(1, Math.min(8, model.config.positions - P));
  const method = compose(buildBackbone(model.config, { batch: 2, seq: S, labels: false }), specs);
  const missing = method.trainable.filter((n) => !trained.has(n));
  if (missing.length) throw new ExportError(`the trained parameters lack ${missing.join(', ')}`);
  return { method, params: initParams(method.graph, 0, new Map([...model.weights, ...trained])), P };
}

/** The node computing the prompt tensor [P, width] (the last one in the method's scope). */
function promptNode(g: Graph, kind: Kind, P: number, width: number): number {
  // Prompt tuning's prompt is its parameter; a deep prompt is computed in the `prefix` scope.
  const scope = kind === 'deep' ? 'prefix' : 'prompt';
  const inScope = (n: Node): boolean => (kind === 'deep' ? n.scope === scope || n.scope.startsWith(`${scope}.`) : n.op === 'param' && n.attrs.name === PROMPT_PARAM);
  const hits = g.nodes.filter((n) => inScope(n) && n.type.shape.length === 2 && n.type.shape[0] === P && n.type.shape[1] === width);
  if (hits.length === 0) throw new ExportError(`no [${P}, ${width}] prompt tensor in scope '${scope}'${kind === 'deep' ? " (PEFT's layout has a block for every layer: select all layers)" : ''}`);
  return hits[hits.length - 1].id;
}

function outputsOf(g: Graph): string[] {
  return [...g.outputs.keys()].filter((k) => k !== PROMPT_OUTPUT);
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

export async function exportArtifact(opts: ExportOptions): Promise<ExportResult> {
  const { model, out } = opts;
  const { config } = model;
  const spec = decodeOrThrow(MethodSpecCodec, opts.methodSpec, 'method spec');
  const kind = kindOf(spec.method);
  const headSpecs = opts.heads ?? [];
  const b = build(model, [spec, ...headSpecs], opts.params);
  const D = config.dim, L = config.layers;
  if (kind === 'deep' && b.method.keyPositions !== b.P) throw new ExportError('deep prompt without key positions');
  const width = kind === 'deep' ? L * 2 * D : D;
  // (a) fold: the prompt as an output makes it a fold root, so the MLP becomes one constant.
  const g = b.method.graph.clone();
  g.setOutput(PROMPT_OUTPUT, promptNode(g, kind, b.P, width));
  const feeds = checkFeeds(g, config);
  const unfolded = runFrozen(g, b.params, feeds, false);
  const folded = runFrozen(g, b.params, feeds, true);
  const diff = maxAbsDiff(unfolded.outputs, folded.outputs);
  if (!(diff <= FOLD_TOLERANCE)) throw new ExportError(`the folded graph's outputs differ from the unfolded graph's by ${diff} (> ${FOLD_TOLERANCE})`);
  const promptParam = folded.graph.node(folded.graph.outputs.get(PROMPT_OUTPUT)!);
  if (promptParam.op !== 'param') throw new ExportError(`the prompt did not fold to a constant (it is computed by '${promptParam.op}')`);
  const prompt = folded.params.get(String(promptParam.attrs.name))!;
  const foldedNames = folded.graph.params().map((p) => String(p.attrs.name)).filter((n) => n.startsWith('folded.'));

  // (b) the artifact.
  await mkdir(out, { recursive: true });
  const heads = headNames(b.method.graph);
  const adapterConfig = {
    peft_type: kind === 'deep' ? 'PREFIX_TUNING' : 'PROMPT_TUNING',
    task_type: taskType(config, heads, headSpecs),
    base_model_name_or_path: opts.baseModel ?? model.label ?? null,
    revision: null,
    inference_mode: true,
    num_virtual_tokens: b.P,
    token_dim: D,
    num_transformer_submodules: 1,
    num_attention_heads: config.heads,
    num_layers: L,
    ...(kind === 'deep'
      ? { encoder_hidden_size: D, prefix_projection: false }
      : { prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null, tokenizer_name_or_path: null }),
  };
  const state = new Map(b.method.trainable.map((n) => [n, b.params.get(n)!] as const));
  const meta: ArtifactMeta = {
    format: ARTIFACT_FORMAT, method: spec, heads: headSpecs, headNames: heads,
    backbone: { kind: config.kind, layers: L, dim: D, heads: config.heads, vocab: config.vocabSize, graphSha256: backboneHash(config) },
    trainable: b.method.trainable, foldCheck: { maxAbsDiff: diff, outputs: outputsOf(g) },
  };
  const files = ['adapter_config.json', 'adapter_model.safetensors', 'promptgraph.json', 'training_state.safetensors'].map((f) => join(out, f));
  await writeJsonAtomic(files[0], adapterConfig);
  await writeSafetensors(files[1], { [PEFT_TENSOR]: prompt }, { format: 'pt' });
  await writeJsonAtomic(files[2], meta);
  await writeSafetensors(files[3], state, { format: 'pt' });
  return { maxAbsDiff: diff, prompt, folded: foldedNames, files };
}

interface ArtifactMeta {
  readonly format: string;
  readonly method: MethodSpec;
  readonly heads: readonly unknown[];
  readonly headNames: readonly string[];
  readonly backbone: { kind: string; layers: number; dim: number; heads: number; vocab: number; graphSha256: string };
  readonly trainable: readonly string[];
  readonly foldCheck: { maxAbsDiff: number; outputs: readonly string[] };
}

export interface LoadedArtifact {
  /** The method spec for the folded prompt (direct parameters), then any heads. */
  readonly specs: readonly unknown[];
  /** Values of the specs' parameters: the prompt, and heads' parameters. */
  readonly params: ParamStore;
  /** The unfolded training state, when the artifact is ours. */
  readonly trainingState?: ParamStore;
  readonly meta?: ArtifactMeta;
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ExportError(`${path}: not a JSON object`);
  return v as Record<string, unknown>;
}

/** Loads an artifact (ours or PEFT's layout) for `model`; mismatches name field and both values. */
export async function loadArtifact(dir: string, model: ExportModel): Promise<LoadedArtifact> {
  const cfgPath = join(dir, 'adapter_config.json');
  const cfg = await readJson(cfgPath);
  if (!cfg) throw new ExportError(`${cfgPath}: no such file`);
  const meta = (await readJson(join(dir, 'promptgraph.json'))) as ArtifactMeta | undefined;
  if (meta && (meta.format !== ARTIFACT_FORMAT || typeof meta.backbone !== 'object' || meta.backbone === null)) throw new ExportError(`${dir}/promptgraph.json: not a ${ARTIFACT_FORMAT} file`);
  const { config } = model;
  const type = cfg.peft_type;
  if (type !== 'PREFIX_TUNING' && type !== 'PROMPT_TUNING') throw new ExportError(`${cfgPath}: peft_type ${JSON.stringify(type)} is not supported (PREFIX_TUNING, PROMPT_TUNING)`);
  if (cfg.prefix_projection === true) throw new ExportError(`${cfgPath}: prefix_projection true: the artifact holds the MLP, not the folded prompt`);
  const checks: [string, unknown, number][] = [
    ['num_layers', cfg.num_layers, config.layers],
    ['token_dim', cfg.token_dim, config.dim],
    ['num_attention_heads', cfg.num_attention_heads, config.heads],
    ['num_transformer_submodules', cfg.num_transformer_submodules ?? 1, 1],
  ];
  if (meta) checks.push(['backbone.vocab', meta.backbone.vocab, config.vocabSize]);
  const bad = checks.filter(([, a, m]) => a !== m).map(([f, a, m]) => `${f}: artifact ${JSON.stringify(a)}, backbone ${m}`);
  if (bad.length) throw new ExportError(`${dir}: the artifact does not fit the backbone (${model.label ?? config.kind}):\n  ${bad.join('\n  ')}`);
  if (meta && meta.backbone.graphSha256 !== backboneHash(config)) throw new ExportError(`${dir}: backbone.graphSha256: artifact ${meta.backbone.graphSha256}, backbone ${backboneHash(config)} (same dims, different architecture)`);

  const P = Number(cfg.num_virtual_tokens);
  const deep = type === 'PREFIX_TUNING';
  const width = deep ? config.layers * 2 * config.dim : config.dim;
  const prompt = (await readSafetensors(join(dir, 'adapter_model.safetensors'))).tensors.get(PEFT_TENSOR);
  if (!prompt) throw new ExportError(`${dir}/adapter_model.safetensors: no '${PEFT_TENSOR}' tensor`);
  if (prompt.shape.length !== 2 || prompt.shape[0] !== P || prompt.shape[1] !== width) {
    throw new ExportError(`${dir}/adapter_model.safetensors: ${PEFT_TENSOR} shape: artifact [${prompt.shape.join(', ')}], backbone needs [${P}, ${width}]`);
  }
  const base = meta?.method ?? { method: deep ? 'prefix-tuning' : 'prompt-tuning', length: P };
  const { initStd: _i, init: _n, reparam: _r, ...rest } = base;
  const spec = deep ? { ...rest, length: P, reparam: null } : { ...rest, length: P };
  const state = meta ? (await readSafetensors(join(dir, 'training_state.safetensors'))).tensors : undefined;
  const params: ParamStore = new Map([[deep ? PREFIX.direct : PROMPT_PARAM, prompt]]);
  if (state) for (const [k, v] of state) if (!k.startsWith('prefix.') && !k.startsWith('prompt.')) params.set(k, v);
  return { specs: [spec, ...(meta?.heads ?? [])], params, ...(state ? { trainingState: state } : {}), ...(meta ? { meta } : {}) };
}
