// The loop greedy decoding and sampling share: one token per row per step, chosen by `pick`;
// a row stops at eos (then fed `pad` while others continue), all stop at maxNewTokens.

import { logSoftmax } from './logits.js';
import { checkSearch, type Generation, type SearchOptions, type StepModel } from './step-model.js';

export type Pick = (row: number, logits: Float64Array) => number;

export async function decodeLoop<C>(model: StepModel<C>, prompts: readonly (readonly number[])[], opts: SearchOptions, pick: Pick): Promise<Generation[]> {
  checkSearch(opts, prompts);
  const pad = opts.pad ?? opts.eos ?? 0;
  const tokens = prompts.map(() => [] as number[]);
  const scores = prompts.map(() => 0);
  const done = prompts.map(() => false);
  let out = await model.step(prompts, null);
  for (let t = 0; ; t++) {
    out.logits.forEach((logits, r) => {
      if (done[r]) return;
      const token = pick(r, logits);
      tokens[r].push(token);
      scores[r] += logSoftmax(logits)[token];
      if (token === opts.eos) done[r] = true;
    });
    if (t + 1 >= opts.maxNewTokens || done.every(Boolean)) break;
    out = await model.step(tokens.map((ts, r) => [done[r] ? pad : ts[ts.length - 1]]), out.cache);
  }
  return tokens.map((ts, r) => ({ tokens: ts, score: scores[r] }));
}
