// Prompts of different lengths share a batch left-padded (as Hugging Face generates): the
// padding is masked out and each row's real tokens take positions 0, 1, ... so a row decodes
// as it would alone.

import { hostTensor, type HostTensor } from '../../ops/index.js';

export interface PaddedBatch {
  readonly ids: number[][];
  /** 1 for real tokens, 0 for padding. */
  readonly mask: number[][];
  /** Position ids: real tokens count from 0; padding gets 0 (never attended to). */
  readonly positions: number[][];
}

export function leftPad(prompts: readonly (readonly number[])[], pad: number): PaddedBatch {
  const T = Math.max(...prompts.map((p) => p.length));
  const ids = prompts.map((p) => [...new Array<number>(T - p.length).fill(pad), ...p]);
  const mask = prompts.map((p) => [...new Array<number>(T - p.length).fill(0), ...new Array<number>(p.length).fill(1)]);
  return { ids, mask, positions: mask.map(positionsOf) };
}

/** Position ids of a 0/1 mask row: the count of real tokens before each one. */
export function positionsOf(mask: readonly number[]): number[] {
  let n = 0;
  return mask.map((m) => (m ? n++ : 0));
}

/** Rows of equal length as an i32 tensor [rows, length]. */
export function i32Rows(rows: readonly (readonly number[])[]): HostTensor {
  return hostTensor([rows.length, rows[0].length], 'i32', rows.flat());
}

/** [rows, V] logits as one array per row. */
export function splitRows(t: HostTensor): Float64Array[] {
  const [rows, V] = t.shape;
  return Array.from({ length: rows }, (_, r) => Float64Array.from(t.data.subarray(r * V, (r + 1) * V)));
}
