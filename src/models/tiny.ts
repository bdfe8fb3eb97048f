// Small configurations with seeded random weights, written as real Hugging Face directories:
// what tests use when they need a GPT-2 or BERT on disk.

import { initParams } from '../ops/index.js';
import type { ParamStore } from '../ops/index.js';
import { buildBackbone } from './backbone.js';
import { saveCheckpoint } from './checkpoint.js';
import type { BertConfig, Gpt2Config, ModelConfig } from './config.js';

export function gpt2TinyConfig(overrides: Partial<Gpt2Config> = {}): Gpt2Config {
  return {
    kind: 'gpt2', vocabSize: 96, positions: 64, dim: 32, layers: 2, heads: 4, inner: 128, eps: 1e-5,
    activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 0, eosTokenId: 0, extra: {}, ...overrides,
  };
}

export function bertTinyConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  return {
    kind: 'bert', vocabSize: 96, positions: 64, typeVocabSize: 2, dim: 32, layers: 2, heads: 4, inner: 128, eps: 1e-12,
    gelu: 'erf', hiddenAct: 'gelu', padTokenId: 0, extra: {}, ...overrides,
  };
}

/**
 * Seeded random weights for a config: normal with std 0.02 like HF's init (or `std`), layer
 * norms at 1/0, biases 0.
 */
export function randomWeights(config: ModelConfig, seed: number, std?: number): ParamStore {
  const g = buildBackbone(config, { batch: 1, seq: 1, labels: false });
  if (std !== undefined) for (const p of g.params()) if (String(p.attrs.init).startsWith('normal:')) p.attrs = { ...p.attrs, init: `normal:${std}` };
  return initParams(g, seed);
}

/** Writes config.json + model.safetensors for a config with seeded random weights. */
export async function writeRandomModel(dir: string, config: ModelConfig, seed: number, std?: number): Promise<ParamStore> {
  const weights = randomWeights(config, seed, std);
  await saveCheckpoint(dir, config, weights);
  return weights;
}
