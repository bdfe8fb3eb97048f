// The graphs a language model decodes with: GPT-2 for (rows, T), with its method applied, then
// rewritten into a decode step (models/decode.ts).

import type { Graph } from '../../graph/index.js';
import type { ParamStore } from '../../ops/index.js';
import type { ModelConfig, Gpt2Config } from '../../models/config.js';
import { buildGpt2 } from '../../models/gpt2.js';
import { DecodeStepError, residentCache, toDecodeStep } from '../../models/decode.js';
import { compose, type MethodSpec } from '../../methods/index.js';

/** A causal language model: a GPT-2 config, its weights (and the methods'), and the methods applied in turn. */
export interface LanguageModel {
  readonly config: ModelConfig;
  readonly weights: ParamStore;
  readonly methods?: readonly MethodSpec[];
}

export function gpt2Config(model: LanguageModel): Gpt2Config {
  if (model.config.kind !== 'gpt2') throw new DecodeStepError(`generation needs a causal LM (gpt2), got a ${model.config.kind} config`);
  return model.config;
}

/** GPT-2 for `rows` x `tokens` with the model's methods applied (e.g. prefix-tuning + LoRA). */
export function methodGraph(model: LanguageModel, rows: number, tokens: number): Graph {
  const g = buildGpt2(gpt2Config(model), { batch: rows, seq: tokens, labels: false });
  return model.methods?.length ? compose(g, model.methods).graph : g;
}

/** One decode step over a window cache of `capacity` slots kept on the device. */
export function cachedStepGraph(model: LanguageModel, rows: number, tokens: number, capacity: number): Graph {
  return residentCache(toDecodeStep(methodGraph(model, rows, tokens), { pastLength: capacity, cache: 'window' }));
}

/** The whole sequence, no cache: the reference the cached steps must agree with. */
export function fullGraph(model: LanguageModel, rows: number, tokens: number): Graph {
  return toDecodeStep(methodGraph(model, rows, tokens), { pastLength: 0, present: false });
}
