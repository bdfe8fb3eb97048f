// Seeded sampling with temperature, top-k and top-p. Each row draws from its own stream
// (derived from the seed and the row index), so a prompt's sample does not depend on what else
// is in the batch, and the same seed gives the same tokens.

import { mulberry32 } from '../../ops/host.js';
import { decodeLoop } from './decode-loop.js';
import { drawToken, filteredDistribution, type SamplingFilter } from './logits.js';
import type { Generation, SearchOptions, StepModel } from './step-model.js';

export interface SampleOptions extends SearchOptions, SamplingFilter {
  readonly seed: number;
}

export function sample<C>(model: StepModel<C>, prompts: readonly (readonly number[])[], opts: SampleOptions): Promise<Generation[]> {
  const streams = prompts.map((_p, r) => mulberry32((opts.seed ^ Math.imul(r + 1, 0x9e3779b1)) >>> 0));
  return decodeLoop(model, prompts, opts, (row, logits) => drawToken(filteredDistribution(logits, opts), streams[row]()));
}
