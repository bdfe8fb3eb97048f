// Greedy decoding: the most likely token at every step.

import { decodeLoop } from './decode-loop.js';
import { argmax } from './logits.js';
import type { Generation, SearchOptions, StepModel } from './step-model.js';

export function greedy<C>(model: StepModel<C>, prompts: readonly (readonly number[])[], opts: SearchOptions): Promise<Generation[]> {
  return decodeLoop(model, prompts, opts, (_row, logits) => argmax(logits));
}
