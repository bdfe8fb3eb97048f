// The key/value-cache step model. The cache is a fixed window of C slots per layer that stays
// on the device (or in the CPU reference's parameters) between steps: one program for the
// prompt (T tokens, or none: the prompt fed token by token) and one for every later step, so a
// generation compiles at most two programs whatever its length. Beam reordering is lazy: the
// rows' order is fed to the next step as `beam_idx` and gathered in-graph, no copy back.
// The host keeps what the graph cannot: each row's mask over the window and next position.

import { hostTensor } from '../../ops/index.js';
import { cacheParams, DECODE, DecodeStepError, positionCount } from '../../models/decode.js';
import { cachedStepGraph, gpt2Config } from './graphs.js';
import { i32Rows, leftPad, splitRows } from './padding.js';
import type { DecodeProgram, Programs } from './programs.js';
import type { StepModel, StepOutput } from './step-model.js';

export interface CachedOptions {
  /** Window slots: at least the longest prompt plus the new tokens. */
  readonly capacity: number;
  /** `prompt`: one program runs the whole prompt (default); `tokens`: the step program, a token at a time (no second compile). */
  readonly prefill?: 'prompt' | 'tokens';
  /** Token id under the left padding (masked out). */
  readonly pad?: number;
}

/** Host side of a cache whose keys and values live in the step program. */
export interface KvState {
  /** The step program's epoch this state belongs to: only the latest state can continue. */
  readonly epoch: number;
  /** Per row: 1 where a window slot holds a real token. */
  readonly masks: readonly (readonly number[])[];
  /** Per row: the next real token's position id. */
  readonly positions: readonly number[];
  /** Per row: the cache row it continues (fed as beam_idx). */
  readonly order: readonly number[];
  /** Slots written so far (the same for every row). */
  readonly filled: number;
}

export class CachedStepModel implements StepModel<KvState> {
  readonly vocabSize: number;
  private readonly capacity: number;

  constructor(private readonly programs: Programs, private readonly opts: CachedOptions) {
    this.vocabSize = gpt2Config(programs.model).vocabSize;
    this.capacity = opts.capacity;
  }

  step(ids: readonly (readonly number[])[], cache: KvState | null): Promise<StepOutput<KvState>> {
    if (!cache) return this.start(ids);
    ids.forEach((r, i) => { if (r.length !== 1) throw new DecodeStepError(`after the prompt, one token per row (row ${i} has ${r.length})`); });
    return this.advance(ids.map((r) => r[0]), ids.map(() => 1), cache, true);
  }

  reorder(cache: KvState, rows: readonly number[]): KvState {
    return { ...cache, masks: rows.map((r) => cache.masks[r]), positions: rows.map((r) => cache.positions[r]), order: rows.map((r) => cache.order[r]) };
  }

  private stepProgram(rows: number): Promise<DecodeProgram> {
    return this.programs.get(`kv:${rows}x1@${this.capacity}`, (m) => cachedStepGraph(m, rows, 1, this.capacity));
  }

  private async start(prompts: readonly (readonly number[])[]): Promise<StepOutput<KvState>> {
    const C = this.capacity;
    const batch = leftPad(prompts, this.opts.pad ?? 0);
    const rows = prompts.length, T = batch.ids[0].length;
    if (T >= C) throw new DecodeStepError(`a prompt of ${T} tokens needs a cache of more than ${T} slots, got ${C}`);
    const step = await this.stepProgram(rows);
    const identity = batch.ids.map((_r, i) => i);
    if (this.opts.prefill === 'tokens' || T === 1) {
      let state: KvState = { epoch: step.epoch, masks: batch.ids.map(() => new Array<number>(C).fill(0)), positions: batch.ids.map(() => 0), order: identity, filled: 0 };
      let out: StepOutput<KvState> | undefined;
      for (let j = 0; j < T; j++) {
        out = await this.advance(batch.ids.map((r) => r[j]), batch.mask.map((m) => m[j]), state, j === T - 1);
        state = out.cache;
      }
      return out!;
    }
    const pre = await this.programs.get(`kv:${rows}x${T}@${C}`, (m) => cachedStepGraph(m, rows, T, C));
    const masks = batch.mask.map((m) => [...new Array<number>(C - T).fill(0), ...m]);
    const positions = prompts.map((p) => p.length);
    this.checkPositions(pre, positions);
    const out = await pre.runner.run({
      [DECODE.inputIds]: i32Rows(batch.ids),
      [DECODE.positionIds]: i32Rows(batch.positions),
      [DECODE.attentionMask]: i32Rows(masks),
      [DECODE.beamIdx]: hostTensor([rows], 'i32', identity),
    }, [DECODE.nextLogits]);
    // The prompt's keys and values move to the step program, which continues from them.
    const values = await pre.runner.readParams(cacheParams(pre.graph));
    for (const [name, v] of values) step.runner.writeParam(name, v);
    step.epoch++;
    return { logits: splitRows(out.get(DECODE.nextLogits)!), cache: { epoch: step.epoch, masks, positions, order: identity, filled: T } };
  }

  /** Appends one token per row (`real` 0: padding, masked and not counted as a position). */
  private async advance(tokens: readonly number[], real: readonly number[], state: KvState, read: boolean): Promise<StepOutput<KvState>> {
    const step = await this.stepProgram(tokens.length);
    if (state.epoch !== step.epoch) throw new DecodeStepError('stale cache: the device cache has moved on since this state (a later step or another generation); continue from the latest state');
    // The window drops its oldest slot each step: it must be empty.
    if (state.filled + 1 > this.capacity) throw new DecodeStepError(`the cache of ${this.capacity} slots is full; create the model with a larger capacity`);
    const masks = state.masks.map((m, r) => [...m.slice(1), real[r]]);
    const positions = state.positions.map((p, r) => p + real[r]);
    this.checkPositions(step, positions);
    const out = await step.runner.run({
      [DECODE.inputIds]: hostTensor([tokens.length, 1], 'i32', tokens),
      [DECODE.positionIds]: hostTensor([tokens.length, 1], 'i32', state.positions.map((p, r) => (real[r] ? p : 0))),
      [DECODE.attentionMask]: i32Rows(masks),
      [DECODE.beamIdx]: hostTensor([tokens.length], 'i32', state.order),
    }, read ? [DECODE.nextLogits] : []);
    step.epoch++;
    const logits = read ? splitRows(out.get(DECODE.nextLogits)!) : [];
    return { logits, cache: { epoch: step.epoch, masks, positions, order: tokens.map((_t, i) => i), filled: state.filled + 1 } };
  }

  /** `next` counts the positions used: they must fit the position table (gather gives 0 past it). */
  private checkPositions(program: DecodeProgram, next: readonly number[]): void {
    const limit = positionCount(program.graph);
    const most = Math.max(...next);
    if (most > limit) throw new DecodeStepError(`${most} positions exceed the model's ${limit} position embeddings`);
  }
}
