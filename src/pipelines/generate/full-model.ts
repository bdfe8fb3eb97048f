// The reference step model: no cache; every step runs the whole sequence so far through the
// ordinary graph. Slow by design, simple to trust. One compiled program per length, or with
// `length` a single one: sequences left-padded to that length (masked, as prompts are).

import { fullGraph, gpt2Config } from './graphs.js';
import { i32Rows, leftPad, positionsOf, splitRows } from './padding.js';
import type { Programs } from './programs.js';
import type { StepModel, StepOutput } from './step-model.js';
import { DECODE, DecodeStepError, positionCount } from '../../models/decode.js';

/** The rows so far: tokens (left-padded prompts, then generated) and their 0/1 mask. */
export interface FullState {
  readonly ids: readonly (readonly number[])[];
  readonly mask: readonly (readonly number[])[];
}

export interface FullOptions {
  /** Run every step at this length (one program) rather than at the sequence's (one per length). */
  readonly length?: number;
  /** Token id under the left padding (masked out). */
  readonly pad?: number;
}

export class FullStepModel implements StepModel<FullState> {
  readonly vocabSize: number;

  constructor(private readonly programs: Programs, private readonly opts: FullOptions = {}) {
    this.vocabSize = gpt2Config(programs.model).vocabSize;
  }

  async step(ids: readonly (readonly number[])[], cache: FullState | null): Promise<StepOutput<FullState>> {
    const state: FullState = cache
      ? { ids: cache.ids.map((r, i) => [...r, ...ids[i]]), mask: cache.mask.map((r, i) => [...r, ...ids[i].map(() => 1)]) }
      : leftPad(ids, this.opts.pad ?? 0);
    const rows = state.ids.length, n = state.ids[0].length;
    const S = this.opts.length ?? n;
    if (n > S) throw new DecodeStepError(`the sequence has ${n} tokens, more than the fixed length ${S}`);
    const front = <T>(r: readonly T[], fill: T): T[] => [...new Array<T>(S - n).fill(fill), ...r];
    const padded = state.ids.map((r) => front(r, this.opts.pad ?? 0)), mask = state.mask.map((r) => front(r, 0));
    const program = await this.programs.get(`full:${rows}x${S}`, (m) => fullGraph(m, rows, S));
    const used = Math.max(...state.mask.map((r) => r.reduce((a, b) => a + b, 0)));
    if (used > positionCount(program.graph)) throw new DecodeStepError(`${used} positions exceed the model's ${positionCount(program.graph)} position embeddings`);
    const out = await program.runner.run({
      [DECODE.inputIds]: i32Rows(padded),
      [DECODE.attentionMask]: i32Rows(mask),
      [DECODE.positionIds]: i32Rows(mask.map(positionsOf)),
    }, [DECODE.nextLogits]);
    return { logits: splitRows(out.get(DECODE.nextLogits)!), cache: state };
  }

  reorder(cache: FullState, rows: readonly number[]): FullState {
    return { ids: rows.map((r) => cache.ids[r]), mask: rows.map((r) => cache.mask[r]) };
  }
}
