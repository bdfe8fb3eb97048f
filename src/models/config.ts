// Hugging Face config.json for GPT-2 and BERT: io-ts codecs for the fields we use, normalized into
// camelCase configs that are also the graph builders' dims (Gpt2Dims / BertDims), and written
// back with the HF names. Fields we do not interpret are kept in `extra` so that saving a
// checkpoint writes them back (HF configs carry many: architectures, task params, ...).

import * as t from 'io-ts';
import { DecodeError, decodeOrThrow } from '../util/decode.js';
import type { Gpt2Dims } from './gpt2.js';
import type { BertDims } from './bert.js';

export interface Gpt2Config extends Gpt2Dims {
  readonly kind: 'gpt2';
  /** Both names are the tanh approximation of GELU, which the GPT-2 graph computes. */
  readonly activation: 'gelu_new' | 'gelu_pytorch_tanh';
  readonly tieWordEmbeddings: boolean;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface BertConfig extends BertDims {
  readonly kind: 'bert';
  /** The HF name, kept for the round trip; `gelu` says which formula it means. */
  readonly hiddenAct: string;
  readonly padTokenId?: number;
  readonly extra: Readonly<Record<string, unknown>>;
}

export type ModelConfig = Gpt2Config | BertConfig;

const integer = (name: string, ok: (n: number) => boolean): t.Type<number, number, unknown> =>
  new t.Type<number, number, unknown>(name, (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && ok(u),
    (u, c) => (typeof u === 'number' && Number.isSafeInteger(u) && ok(u) ? t.success(u) : t.failure(u, c)), t.identity);
const Positive = integer('positive integer', (n) => n > 0);
const TokenId = t.union([t.null, integer('non-negative integer', (n) => n >= 0)]);
const Epsilon = new t.Type<number, number, unknown>('positive number', (u): u is number => typeof u === 'number' && u > 0 && Number.isFinite(u),
  (u, c) => (typeof u === 'number' && u > 0 && Number.isFinite(u) ? t.success(u) : t.failure(u, c)), t.identity);

const Gpt2Hf = t.intersection([
  t.type({ model_type: t.literal('gpt2'), vocab_size: Positive, n_positions: Positive, n_embd: Positive, n_layer: Positive, n_head: Positive }),
  t.partial({
    layer_norm_epsilon: Epsilon, n_inner: t.union([t.null, Positive]), activation_function: t.string,
    tie_word_embeddings: t.boolean, bos_token_id: TokenId, eos_token_id: TokenId,
  }),
]);

const BertHf = t.intersection([
  t.type({
    model_type: t.literal('bert'), vocab_size: Positive, hidden_size: Positive, num_hidden_layers: Positive, num_attention_heads: Positive,
    intermediate_size: Positive, hidden_act: t.string, max_position_embeddings: Positive, type_vocab_size: Positive,
  }),
  t.partial({ layer_norm_eps: Epsilon, pad_token_id: TokenId }),
]);

const GPT2_FIELDS = ['model_type', 'vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'layer_norm_epsilon', 'n_inner', 'activation_function', 'tie_word_embeddings', 'bos_token_id', 'eos_token_id'];
const BERT_FIELDS = ['model_type', 'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'hidden_act', 'max_position_embeddings', 'type_vocab_size', 'layer_norm_eps', 'pad_token_id'];

const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh'] as const;
const BERT_ACTIVATIONS: Readonly<Record<string, 'erf' | 'tanh'>> = { gelu: 'erf', gelu_python: 'erf', gelu_new: 'tanh', gelu_pytorch_tanh: 'tanh' };

/**
 * Variants the graphs do not implement, with the only value they accept. Each appears in real HF
 * configs (usually at that value); any other value would silently compute a different model.
 */
const UNSUPPORTED_VARIANTS: Record<ModelConfig['kind'], Readonly<Record<string, unknown>>> = {
  gpt2: { scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false, reorder_and_upcast_attn: false, add_cross_attention: false },
  bert: { position_embedding_type: 'absolute', is_decoder: false, add_cross_attention: false },
};

/** Decodes an HF config.json value; errors name `file` and the JSON path (`$.n_layer`). */
export function parseModelConfig(json: unknown, file: string): ModelConfig {
  const { model_type: type } = decodeOrThrow(t.type({ model_type: t.string }), json, file);
  const raw = json as Record<string, unknown>;
  if (type !== 'gpt2' && type !== 'bert') throw new DecodeError(`${file}: at $.model_type: model type ${JSON.stringify(type)} is not supported (supported: gpt2, bert)`);
  for (const [field, allowed] of Object.entries(UNSUPPORTED_VARIANTS[type])) {
    if (field in raw && raw[field] !== allowed) {
      throw new DecodeError(`${file}: at $.${field}: ${JSON.stringify(raw[field])} is not supported (only ${JSON.stringify(allowed)}: the ${type} graph implements no other variant)`);
    }
  }
  return type === 'gpt2' ? parseGpt2(raw, file) : parseBert(raw, file);
}

function parseGpt2(raw: Record<string, unknown>, file: string): Gpt2Config {
  const c = decodeOrThrow(Gpt2Hf, raw, file);
  const activation = c.activation_function ?? 'gelu_new'; // HF's default
  if (!isOneOf(activation, GPT2_ACTIVATIONS)) {
    throw new DecodeError(`${file}: at $.activation_function: ${JSON.stringify(activation)} is not supported (supported: ${GPT2_ACTIVATIONS.join(', ')}, the tanh GELU)`);
  }
  divisible(c.n_embd, 'n_embd', c.n_head, 'n_head', file);
  return {
    kind: 'gpt2', vocabSize: c.vocab_size, positions: c.n_positions, dim: c.n_embd, layers: c.n_layer, heads: c.n_head,
    inner: c.n_inner ?? 4 * c.n_embd, eps: c.layer_norm_epsilon ?? 1e-5, activation, tieWordEmbeddings: c.tie_word_embeddings ?? true,
    ...(c.bos_token_id != null ? { bosTokenId: c.bos_token_id } : {}),
    ...(c.eos_token_id != null ? { eosTokenId: c.eos_token_id } : {}),
    extra: extraFields(raw, GPT2_FIELDS),
  };
}

function parseBert(raw: Record<string, unknown>, file: string): BertConfig {
  const c = decodeOrThrow(BertHf, raw, file);
  const gelu = Object.hasOwn(BERT_ACTIVATIONS, c.hidden_act) ? BERT_ACTIVATIONS[c.hidden_act] : undefined;
  if (gelu === undefined) {
    throw new DecodeError(`${file}: at $.hidden_act: ${JSON.stringify(c.hidden_act)} is not supported (supported: ${Object.keys(BERT_ACTIVATIONS).join(', ')})`);
  }
  divisible(c.hidden_size, 'hidden_size', c.num_attention_heads, 'num_attention_heads', file);
  return {
    kind: 'bert', vocabSize: c.vocab_size, positions: c.max_position_embeddings, typeVocabSize: c.type_vocab_size, dim: c.hidden_size,
    layers: c.num_hidden_layers, heads: c.num_attention_heads, inner: c.intermediate_size, eps: c.layer_norm_eps ?? 1e-12,
    gelu, hiddenAct: c.hidden_act,
    ...(c.pad_token_id != null ? { padTokenId: c.pad_token_id } : {}),
    extra: extraFields(raw, BERT_FIELDS),
  };
}

/** The HF config.json object for a config: parseModelConfig(toHfConfig(c)) deep-equals c. */
export function toHfConfig(config: ModelConfig): Record<string, unknown> {
  if (config.kind === 'gpt2') {
    return {
      ...config.extra, model_type: 'gpt2', vocab_size: config.vocabSize, n_positions: config.positions, n_embd: config.dim,
      n_layer: config.layers, n_head: config.heads, n_inner: config.inner === 4 * config.dim ? null : config.inner,
      activation_function: config.activation, layer_norm_epsilon: config.eps, tie_word_embeddings: config.tieWordEmbeddings,
      ...(config.bosTokenId !== undefined ? { bos_token_id: config.bosTokenId } : {}),
      ...(config.eosTokenId !== undefined ? { eos_token_id: config.eosTokenId } : {}),
    };
  }
  return {
    ...config.extra, model_type: 'bert', vocab_size: config.vocabSize, hidden_size: config.dim, num_hidden_layers: config.layers,
    num_attention_heads: config.heads, intermediate_size: config.inner, hidden_act: config.hiddenAct,
    max_position_embeddings: config.positions, type_vocab_size: config.typeVocabSize, layer_norm_eps: config.eps,
    ...(config.padTokenId !== undefined ? { pad_token_id: config.padTokenId } : {}),
  };
}

function divisible(n: number, nName: string, d: number, dName: string, file: string): void {
  if (n % d !== 0) throw new DecodeError(`${file}: ${nName} (${n}) is not divisible by ${dName} (${d}): each head needs an equal share`);
}

function extraFields(raw: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([k]) => !known.includes(k)));
}

function isOneOf<T extends string>(s: string, options: readonly T[]): s is T {
  return (options as readonly string[]).includes(s);
}
