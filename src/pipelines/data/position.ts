// Where a pipeline stands, in a JSON-serializable form a training checkpoint can carry.
//
// Resuming is by deterministic replay: the pipeline is rebuilt with the same sources, seeds and
// settings, run from the start, and its first `delivered` outputs are dropped. The cost is re-reading
// and re-processing those examples on the host (decode, tokenize, shuffle; no device work); it buys
// exactness with no per-operator state to save. `sourceConsumed` and `shuffleRng` are recorded at
// the moment the last delivered item was produced; the replay checks it reaches the same values,
// which catches a changed file, seed or setting instead of silently resuming elsewhere.

import * as t from 'io-ts';
import { decodeOrThrow } from '../../util/decode.js';

/** An integer in [lo, hi], as a plain number type (t.refinement is deprecated; t.brand would brand it). */
function intIn(name: string, lo: number, hi: number): t.Type<number, number, unknown> {
  const is = (u: unknown): u is number => typeof u === 'number' && Number.isInteger(u) && u >= lo && u <= hi;
  return new t.Type<number, number, unknown>(name, is, (u, c) => (is(u) ? t.success(u) : t.failure(u, c)), t.identity);
}
const Count = intIn('non-negative integer', 0, Number.MAX_SAFE_INTEGER);
const Uint32 = intIn('uint32', 0, 0xffffffff);

export const DataPositionCodec = t.type({
  version: t.literal(1),
  /** Items handed to the consumer. */
  delivered: Count,
  /** Examples pulled from the pipeline's sources when the last delivered item was produced. */
  sourceConsumed: Count,
  /** State of each seededShuffle's RNG (in subscription order) at that moment. */
  shuffleRng: t.array(Uint32),
});
export type DataPosition = t.TypeOf<typeof DataPositionCodec>;

/** What a pipeline's probes read at one moment. */
export interface Snapshot {
  readonly sourceConsumed: number;
  readonly shuffleRng: readonly number[];
}

export const START_POSITION: DataPosition = { version: 1, delivered: 0, sourceConsumed: 0, shuffleRng: [] };

/** Decodes a position read from a checkpoint or config (errors name the JSON path). */
export function decodePosition(json: unknown, what = 'data position'): DataPosition {
  return decodeOrThrow(DataPositionCodec, json, what);
}

export function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  return a.sourceConsumed === b.sourceConsumed && a.shuffleRng.length === b.shuffleRng.length && a.shuffleRng.every((s, i) => s === b.shuffleRng[i]);
}

/** Counts source pulls and reads shuffle RNGs for one subscription of a pipeline. */
export class PositionRecorder {
  sourceConsumed = 0;
  private readonly rngs: Array<{ readonly state: number }> = [];
  private override: Snapshot | null = null;

  registerRng(rng: { readonly state: number }): void {
    this.rngs.push(rng);
  }

  snapshot(): Snapshot {
    return this.override ?? { sourceConsumed: this.sourceConsumed, shuffleRng: this.rngs.map((r) => r.state) };
  }

  /** Runs `emit` (a synchronous downstream push) as if at `snap`: buffering stages re-emit items
   *  later than they were made, and the position must describe when an item was made. */
  emitAt(snap: Snapshot, emit: () => void): void {
    const prev = this.override;
    this.override = snap;
    try {
      emit();
    } finally {
      this.override = prev;
    }
  }
}
