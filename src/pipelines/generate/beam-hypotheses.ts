// Finished beam-search hypotheses of one prompt, as Hugging Face's BeamHypotheses: the best
// `beams` by length-penalized score, and the stopping rule for `earlyStopping`.

import type { Generation } from './step-model.js';

export type EarlyStopping = boolean | 'never';

/** HF's score: summed log-probabilities / generated length ^ penalty (eos counts as a token). */
export function beamScore(sumLogprobs: number, length: number, lengthPenalty: number): number {
  return sumLogprobs / Math.pow(length, lengthPenalty);
}

export class BeamHypotheses {
  private readonly list: Generation[] = [];

  constructor(
    private readonly beams: number,
    private readonly lengthPenalty: number,
    private readonly earlyStopping: EarlyStopping,
    private readonly maxNewTokens: number,
  ) {}

  get size(): number {
    return this.list.length;
  }

  private get worst(): number {
    return this.list.reduce((m, h) => Math.min(m, h.score), Infinity);
  }

  add(tokens: readonly number[], sumLogprobs: number): void {
    const score = beamScore(sumLogprobs, tokens.length, this.lengthPenalty);
    if (this.list.length < this.beams || score > this.worst) {
      this.list.push({ tokens: [...tokens], score });
      if (this.list.length > this.beams) this.list.splice(this.list.findIndex((h) => h.score === this.worst), 1);
    }
  }

  /**
   * Whether no running beam can still improve the list. `bestSum` is the best candidate's summed
   * log-probability at `length` generated tokens. `never` uses the best score still attainable
   * (at maxNewTokens when the penalty favours length), so it stops only when exact.
   */
  isDone(bestSum: number, length: number): boolean {
    if (this.list.length < this.beams) return false;
    if (this.earlyStopping === true) return true;
    const at = this.earlyStopping === 'never' && this.lengthPenalty > 0 ? this.maxNewTokens : length;
    return this.worst >= beamScore(bestSum, at, this.lengthPenalty);
  }

  /** Best first. */
  sorted(): Generation[] {
    return [...this.list].sort((a, b) => b.score - a.score);
  }
}
