// Hugging Face checkpoint directories (config.json + model.safetensors): load, check, save.
// Tensor names are normalized to the names the graph builders use (no `transformer.` / `bert.`
// prefix), and a checkpoint is checked whole against the config before anything uses it.

import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { formatShape, sameShape, type Shape } from '../graph/index.js';
import type { HostTensor } from '../ops/host.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { parseModelConfig, toHfConfig, type BertConfig, type Gpt2Config, type ModelConfig } from './config.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export interface Checkpoint {
  readonly config: ModelConfig;
  /** Normalized names (see normalizeTensors), in file order. */
  readonly tensors: Map<string, HostTensor>;
  readonly dir: string;
  /** File names that normalization removed (buffers, tied copies, unused heads), for reporting. */
  readonly dropped: readonly string[];
}

export interface ExpectedTensors {
  readonly shapes: Map<string, Shape>;
  /** Names that may be absent (but must have the right shape when present). */
  readonly optional: ReadonlySet<string>;
}

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
const PICKLE = /\.(bin|pt|pth|ckpt)$/;

/** Loads and (unless `check: false`) fully checks a checkpoint directory. */
export async function loadCheckpoint(dir: string, opts: { check?: boolean } = {}): Promise<Checkpoint> {
  const configPath = join(dir, CONFIG_FILE);
  const config = parseModelConfig(await readJson(configPath), configPath);
  const weights = join(dir, WEIGHTS_FILE);
  const files = await readdir(dir);
  if (!files.includes(WEIGHTS_FILE)) throw new CheckpointError(missingWeights(dir, files));
  const normalized = normalizeTensors(config, (await readSafetensors(weights)).tensors, weights);
  if (opts.check ?? true) {
    const expected = expectedTensors(config);
    checkTensors(normalized.tensors, expected.shapes, weights, expected.optional);
  }
  return { config, tensors: normalized.tensors, dir, dropped: normalized.dropped };
}

/** Writes config.json (HF names) and model.safetensors atomically; checks the tensors first. */
export async function saveCheckpoint(dir: string, config: ModelConfig, tensors: ReadonlyMap<string, HostTensor>): Promise<void> {
  const expected = expectedTensors(config);
  checkTensors(tensors, expected.shapes, join(dir, WEIGHTS_FILE), expected.optional);
  await mkdir(dir, { recursive: true });
  // `format: pt` is what transformers' from_pretrained requires of safetensors metadata.
  await writeSafetensors(join(dir, WEIGHTS_FILE), tensors, { format: 'pt' });
  await writeJsonAtomic(join(dir, CONFIG_FILE), toHfConfig(config));
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read (${e instanceof Error ? e.message : String(e)}); a checkpoint directory needs config.json`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${path}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

function missingWeights(dir: string, files: readonly string[]): string {
  if (files.includes('model.safetensors.index.json')) return `${dir}: sharded checkpoints (model.safetensors.index.json) are not supported; save the model unsharded`;
  const pickled = files.find((f) => PICKLE.test(f));
  if (pickled === undefined) return `${dir}: no ${WEIGHTS_FILE} found`;
  // We never unpickle: a pickle can run arbitrary code. Python converts it in one line.
  const src = join(dir, pickled), dst = join(dir, WEIGHTS_FILE);
  return `${dir}: found ${pickled} but no ${WEIGHTS_FILE}; pickled PyTorch weights are not read here (unpickling can run code). Convert them once with:\n` +
    `  python -c "import torch; from safetensors.torch import save_file; sd = torch.load(${JSON.stringify(src)}, map_location='cpu', weights_only=True); ` +
    `save_file({k: v.contiguous().clone() for k, v in sd.items()}, ${JSON.stringify(dst)}, metadata={'format': 'pt'})"`;
}

/**
 * Maps names as found in HF files to the graph builders' names:
 *  - strips the base-model prefix (`transformer.` for GPT-2, `bert.` for BERT; `lm_head.*` and
 *    `cls.*` never carry it);
 *  - drops constant buffers older transformers versions saved (GPT-2 `h.N.attn.bias` /
 *    `masked_bias` causal masks, BERT `embeddings.position_ids`) and BERT's next-sentence head
 *    `cls.seq_relationship.*` (BertForPreTraining files; the MLM graph has no use for it);
 *  - drops the tied LM head (`lm_head.weight`, `cls.predictions.decoder.weight`/`.bias`) when it is
 *    identical to the tensor it is tied to, or takes it as that tensor when only the copy was saved.
 * A head that differs from its tie stays, so checkTensors reports it rather than it being lost.
 */
export function normalizeTensors(config: ModelConfig, found: ReadonlyMap<string, HostTensor>, file: string): { tensors: Map<string, HostTensor>; dropped: string[] } {
  const prefix = config.kind === 'gpt2' ? 'transformer.' : 'bert.';
  const drop = config.kind === 'gpt2' ? /^h\.\d+\.attn\.(bias|masked_bias)$/ : /^(embeddings\.position_ids|cls\.seq_relationship\..*)$/;
  const tensors = new Map<string, HostTensor>();
  const origin = new Map<string, string>();
  const dropped: string[] = [];
  for (const [name, tensor] of found) {
    const short = name.startsWith(prefix) ? name.slice(prefix.length) : name;
    if (drop.test(short)) {
      dropped.push(name);
      continue;
    }
    const other = origin.get(short);
    if (other !== undefined) throw new CheckpointError(`${file}: tensors "${other}" and "${name}" both mean "${short}"`);
    origin.set(short, name);
    tensors.set(short, tensor);
  }
  const ties: [string, string][] = config.kind === 'gpt2'
    ? (config.tieWordEmbeddings ? [['lm_head.weight', 'wte.weight']] : [])
    : [['cls.predictions.decoder.weight', 'embeddings.word_embeddings.weight'], ['cls.predictions.decoder.bias', 'cls.predictions.bias']];
  for (const [copy, target] of ties) {
    const c = tensors.get(copy), t = tensors.get(target);
    if (c === undefined || (t !== undefined && !identical(c, t))) continue;
    if (t === undefined) tensors.set(target, c);
    tensors.delete(copy);
    dropped.push(origin.get(copy) ?? copy);
  }
  return { tensors, dropped };
}

function identical(a: HostTensor, b: HostTensor): boolean {
  if (a.dtype !== b.dtype || !sameShape(a.shape, b.shape) || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

/**
 * Compares a whole set of tensors with what a model needs and reports every missing, unexpected,
 * misshapen or non-float tensor in one error, so a checkpoint is never half-loaded.
 */
export function checkTensors(tensors: ReadonlyMap<string, HostTensor>, expected: ReadonlyMap<string, Shape>, file: string, optional: ReadonlySet<string> = new Set()): void {
  const missing: string[] = [], unexpected: string[] = [], wrongShape: string[] = [], wrongDtype: string[] = [];
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (t === undefined) {
      if (!optional.has(name)) missing.push(`${name} ${formatShape(shape)}`);
    } else if (!sameShape(t.shape, shape)) wrongShape.push(`${name}: expected ${formatShape(shape)}, found ${formatShape(t.shape)}`);
    else if (t.dtype === 'i32') wrongDtype.push(`${name}: expected floats, found i32`);
  }
  for (const [name, t] of tensors) if (!expected.has(name)) unexpected.push(`${name} ${formatShape(t.shape)}`);
  const sections: [string, string[]][] = [['missing', missing], ['unexpected', unexpected], ['wrong shape', wrongShape], ['wrong dtype', wrongDtype]];
  const report = sections.filter(([, list]) => list.length > 0).map(([title, list]) => `  ${title} (${list.length}): ${list.join('; ')}`);
  if (report.length > 0) throw new CheckpointError(`${file}: tensors do not match the config:\n${report.join('\n')}`);
}

export function expectedTensors(config: ModelConfig): ExpectedTensors {
  return config.kind === 'gpt2'
    ? { shapes: expectedGpt2Tensors(config), optional: new Set() }
    : { shapes: expectedBertTensors(config), optional: new Set(['pooler.dense.weight', 'pooler.dense.bias']) };
}

/** GPT2LMHeadModel's tensors, prefix stripped. Conv1D weights are [in, out]. */
export function expectedGpt2Tensors(config: Gpt2Config): Map<string, Shape> {
  const { vocabSize: V, positions: P, dim: D, inner: I } = config;
  const m = new Map<string, Shape>([['wte.weight', [V, D]], ['wpe.weight', [P, D]]]);
  for (let l = 0; l < config.layers; l++) {
    const h = `h.${l}`;
    m.set(`${h}.ln_1.weight`, [D]).set(`${h}.ln_1.bias`, [D]);
    m.set(`${h}.attn.c_attn.weight`, [D, 3 * D]).set(`${h}.attn.c_attn.bias`, [3 * D]);
    m.set(`${h}.attn.c_proj.weight`, [D, D]).set(`${h}.attn.c_proj.bias`, [D]);
    m.set(`${h}.ln_2.weight`, [D]).set(`${h}.ln_2.bias`, [D]);
    m.set(`${h}.mlp.c_fc.weight`, [D, I]).set(`${h}.mlp.c_fc.bias`, [I]);
    m.set(`${h}.mlp.c_proj.weight`, [I, D]).set(`${h}.mlp.c_proj.bias`, [D]);
  }
  m.set('ln_f.weight', [D]).set('ln_f.bias', [D]);
  // An untied head is a tensor of its own (buildGpt2 itself always ties to wte).
  if (!config.tieWordEmbeddings) m.set('lm_head.weight', [V, D]);
  return m;
}

/** BertForMaskedLM's tensors, prefix stripped. nn.Linear weights are [out, in]; the decoder is tied. */
export function expectedBertTensors(config: BertConfig): Map<string, Shape> {
  const { vocabSize: V, positions: P, typeVocabSize: T, dim: H, inner: I } = config;
  const m = new Map<string, Shape>();
  const linear = (name: string, nOut: number, nIn: number): void => void m.set(`${name}.weight`, [nOut, nIn]).set(`${name}.bias`, [nOut]);
  const layerNorm = (name: string): void => void m.set(`${name}.LayerNorm.weight`, [H]).set(`${name}.LayerNorm.bias`, [H]);
  m.set('embeddings.word_embeddings.weight', [V, H]).set('embeddings.position_embeddings.weight', [P, H]).set('embeddings.token_type_embeddings.weight', [T, H]);
  layerNorm('embeddings');
  for (let l = 0; l < config.layers; l++) {
    const L = `encoder.layer.${l}`;
    for (const p of ['query', 'key', 'value']) linear(`${L}.attention.self.${p}`, H, H);
    linear(`${L}.attention.output.dense`, H, H);
    layerNorm(`${L}.attention.output`);
    linear(`${L}.intermediate.dense`, I, H);
    linear(`${L}.output.dense`, H, I);
    layerNorm(`${L}.output`);
  }
  linear('pooler.dense', H, H);
  linear('cls.predictions.transform.dense', H, H);
  layerNorm('cls.predictions.transform');
  m.set('cls.predictions.bias', [V]);
  return m;
}
