// What the search loops decode with: a model that appends tokens to rows and returns each row's
// next-token logits. The cache is opaque to the loops; they only pass it on and reorder it.

export interface StepOutput<C> {
  /** Next-token logits, one [V] array per row. */
  readonly logits: readonly Float64Array[];
  readonly cache: C;
}

export interface StepModel<C> {
  readonly vocabSize: number;
  /**
   * The first call (cache null) takes each row's prompt (lengths may differ); later calls one
   * token per row, appended after what `cache` holds.
   */
  step(ids: readonly (readonly number[])[], cache: C | null): Promise<StepOutput<C>>;
  /** Row i of the result continues row `rows[i]` of `cache` (beam reordering). */
  reorder(cache: C, rows: readonly number[]): C;
}

/** A finished sequence: generated tokens (eos included when emitted) and its score. */
export interface Generation {
  readonly tokens: number[];
  /** Sum of the tokens' log-probabilities (beam search: divided by length^lengthPenalty). */
  readonly score: number;
}

/** Options every search takes. */
export interface SearchOptions {
  readonly maxNewTokens: number;
  /** The token that ends a sequence (none: sequences run to maxNewTokens). */
  readonly eos?: number;
  /** Fed to rows that have finished while others continue (default eos, else 0). */
  readonly pad?: number;
}

export function checkSearch(opts: SearchOptions, prompts: readonly (readonly number[])[]): void {
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 1) throw new RangeError(`maxNewTokens must be a positive integer, got ${opts.maxNewTokens}`);
  if (prompts.length === 0) throw new RangeError('no prompts');
  prompts.forEach((p, i) => { if (p.length === 0) throw new RangeError(`prompt ${i} is empty`); });
}
