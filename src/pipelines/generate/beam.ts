// Beam search as Hugging Face runs it: per prompt, `beams` rows; each step takes the best
// 2*beams (beam, token) candidates by summed log-probability; an eos candidate among the first
// `beams` ends a hypothesis, the others continue until `beams` rows are filled; rows are then
// reordered (the model's cache with them). Hypotheses are ranked by score / length^penalty.

import { logSoftmax } from './logits.js';
import { BeamHypotheses, type EarlyStopping } from './beam-hypotheses.js';
import { checkSearch, type Generation, type SearchOptions, type StepModel } from './step-model.js';

export interface BeamOptions extends SearchOptions {
  /** Beams per prompt (default 5). */
  readonly beams?: number;
  /** Exponent of the length in the score's denominator (default 1.0). */
  readonly lengthPenalty?: number;
  /** true: stop at `beams` finished hypotheses; false: HF's heuristic (default); 'never': exact. */
  readonly earlyStopping?: EarlyStopping;
}

interface Candidate { readonly row: number; readonly token: number; readonly sum: number }

/** Per prompt, the finished hypotheses, best first (up to `beams`). */
export async function beamSearch<C>(model: StepModel<C>, prompts: readonly (readonly number[])[], opts: BeamOptions): Promise<Generation[][]> {
  checkSearch(opts, prompts);
  const K = opts.beams ?? 5;
  if (!Number.isInteger(K) || K < 1) throw new RangeError(`beams must be a positive integer, got ${K}`);
  const lp = opts.lengthPenalty ?? 1.0;
  const pad = opts.pad ?? opts.eos ?? 0;
  const hyps = prompts.map(() => new BeamHypotheses(K, lp, opts.earlyStopping ?? false, opts.maxNewTokens));
  const done = prompts.map(() => false);
  // Row p*K + k is beam k of prompt p. Only beam 0 starts live, so the first step's K best
  // candidates are K different tokens rather than K copies of one.
  let sums: number[] = prompts.flatMap(() => Array.from({ length: K }, (_, k) => (k === 0 ? 0 : -1e9)));
  let seqs: number[][] = sums.map(() => []);
  let out = await model.step(prompts.flatMap((p) => Array.from({ length: K }, () => p)), null);

  for (let t = 1; ; t++) {
    const logprobs = out.logits.map(logSoftmax);
    const order: number[] = [];
    const nextSums: number[] = [], nextSeqs: number[][] = [];
    prompts.forEach((_p, p) => {
      const rows = Array.from({ length: K }, (_, k) => p * K + k);
      if (done[p]) {
        for (const r of rows) { order.push(r); nextSums.push(sums[r]); nextSeqs.push([...seqs[r], pad]); }
        return;
      }
      const top = bestCandidates(rows, logprobs, sums, 2 * K);
      const kept: Candidate[] = [];
      for (let rank = 0; rank < top.length && kept.length < K; rank++) {
        const c = top[rank];
        if (c.token === opts.eos) {
          if (rank < K) hyps[p].add([...seqs[c.row], c.token], c.sum);
        } else kept.push(c);
      }
      if (kept.length < K) throw new RangeError(`only ${kept.length} non-eos candidates for ${K} beams: the vocabulary is too small`);
      for (const c of kept) { order.push(c.row); nextSums.push(c.sum); nextSeqs.push([...seqs[c.row], c.token]); }
      done[p] = hyps[p].isDone(top[0].sum, t);
    });
    sums = nextSums;
    seqs = nextSeqs;
    if (t >= opts.maxNewTokens || done.every(Boolean)) break;
    out = await model.step(seqs.map((s) => [s[s.length - 1]]), model.reorder(out.cache, order));
  }
  // Prompts still running at the length limit: their live beams are hypotheses too.
  prompts.forEach((_p, p) => {
    if (!done[p]) for (let k = 0; k < K; k++) hyps[p].add(seqs[p * K + k], sums[p * K + k]);
  });
  return hyps.map((h) => h.sorted());
}

/** The n best (row, token) continuations of `rows`, best first (ties: lower row, then token). */
function bestCandidates(rows: readonly number[], logprobs: readonly Float64Array[], sums: readonly number[], n: number): Candidate[] {
  const all: Candidate[] = [];
  for (const row of rows) {
    // The overall n best are among each row's n best: keep the lists short for large vocabularies.
    const lp = logprobs[row];
    const idx = [...lp.keys()].sort((a, b) => lp[b] - lp[a] || a - b).slice(0, n);
    for (const token of idx) all.push({ row, token, sum: sums[row] + lp[token] });
  }
  return all.sort((a, b) => b.sum - a.sum || a.row - b.row || a.token - b.token).slice(0, n);
}
