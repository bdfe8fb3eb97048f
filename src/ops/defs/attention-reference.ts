// Float64 references of the fused attention ops, written as plainly as possible (full score row,
// max-subtracted softmax) to be the oracle of the kernels in attention-kernels.ts.

import type { TensorType } from '../../graph/index.js';
import { hostZeros, type HostTensor } from '../host.js';
import type { AttentionLayout, KeyBlock, Strides } from './attention-layout.js';

/** Row i of head h, batch b of a head tensor with strides `st` (either layout): its offset. */
const at = (st: Strides, b: number, h: number, i: number): number => b * st.b + h * st.h + i * st.i;

/** One key of one block for batch b, head h: the offset of its row. */
function rowOf(blk: KeyBlock, b: number, h: number, j: number): number {
  return at(blk.strides, b, h, j);
}

function dot(x: HostTensor, xo: number, y: HostTensor, yo: number, n: number): number {
  let s = 0;
  for (let d = 0; d < n; d++) s += x.data[xo + d] * y.data[yo + d];
  return s;
}

function maskValue(L: AttentionLayout, blk: KeyBlock, mask: HostTensor | undefined, b: number, h: number, i: number, j: number): number {
  if (!mask || !L.mask || blk.maskCol === undefined) return 0;
  const [sb, sh, si] = L.mask.strides;
  return mask.data[b * sb + h * sh + i * si + blk.maskCol + j];
}

/** Score of query (b,h,i) against key j of `blk`. */
function score(L: AttentionLayout, ins: readonly HostTensor[], blk: KeyBlock, mask: HostTensor | undefined, scale: number, b: number, h: number, i: number, j: number): number {
  const qo = at(L.q, b, h, i);
  return scale * dot(ins[0], qo, ins[blk.keys], rowOf(blk, b, h, j) + (blk.kCol ?? 0), L.dh) + maskValue(L, blk, mask, b, h, i, j);
}

const visible = (blk: KeyBlock, i: number, j: number): boolean => blk.causal === undefined || j <= i + blk.causal;

interface Row {
  /** Softmax probabilities over every key of every block, in block order. */
  readonly p: Float64Array;
  readonly lse: number;
  /** (block, key) of each entry of p. */
  readonly keys: readonly [KeyBlock, number][];
}

function softmaxRow(L: AttentionLayout, ins: readonly HostTensor[], blocks: readonly KeyBlock[], mask: HostTensor | undefined, scale: number, b: number, h: number, i: number): Row {
  const keys: [KeyBlock, number][] = blocks.flatMap((blk) => [...Array(blk.n).keys()].map((j): [KeyBlock, number] => [blk, j]));
  // Keys a causal block hides are left out (probability 0), as the kernels skip them.
  const z = Float64Array.from(keys, ([blk, j]) => (visible(blk, i, j) ? score(L, ins, blk, mask, scale, b, h, i, j) : -Infinity));
  let m = -Infinity;
  for (const v of z) m = Math.max(m, v);
  let sum = 0;
  for (let j = 0; j < z.length; j++) sum += (z[j] = Math.exp(z[j] - m));
  for (let j = 0; j < z.length; j++) z[j] /= sum;
  return { p: z, lse: m + Math.log(sum), keys };
}

export interface QuerySide {
  readonly L: AttentionLayout;
  readonly blocks: readonly KeyBlock[];
  readonly mask?: HostTensor;
  readonly scale: number;
}

/** Each query row: r its statistics index ((b*H + h)*S + i), qo and oo its offsets in q (dq) and in the output (dO). */
function forEachQuery(L: AttentionLayout, f: (b: number, h: number, i: number, q: { r: number; qo: number; oo: number }) => void): void {
  for (let b = 0; b < L.B; b++) for (let h = 0; h < L.H; h++) for (let i = 0; i < L.S; i++) f(b, h, i, { r: (b * L.H + h) * L.S + i, qo: at(L.q, b, h, i), oo: at(L.o, b, h, i) });
}

export function forwardReference(x: QuerySide, ins: readonly HostTensor[], out: TensorType): HostTensor {
  const { L } = x;
  const res = hostZeros(out);
  forEachQuery(L, (b, h, i, { oo }) => {
    const row = softmaxRow(L, ins, x.blocks, x.mask, x.scale, b, h, i);
    row.keys.forEach(([blk, j], k) => {
      const vo = rowOf(blk, b, h, j) + (blk.vCol ?? 0);
      for (let d = 0; d < L.dh; d++) res.data[oo + d] += row.p[k] * ins[blk.values!].data[vo + d];
    });
  });
  return res;
}

/** [B,H,S,2]: the row's logsumexp of scores and dO · O. */
export function statsReference(x: QuerySide, ins: readonly HostTensor[], dy: HostTensor, o: HostTensor, out: TensorType): HostTensor {
  const { L } = x;
  const res = hostZeros(out);
  forEachQuery(L, (b, h, i, { r, oo }) => {
    res.data[2 * r] = softmaxRow(L, ins, x.blocks, x.mask, x.scale, b, h, i).lse;
    res.data[2 * r + 1] = dot(dy, oo, o, oo, L.dh);
  });
  return res;
}

export function gradQReference(x: QuerySide, ins: readonly HostTensor[], dy: HostTensor, out: TensorType): HostTensor {
  const { L } = x;
  const res = hostZeros(out);
  forEachQuery(L, (b, h, i, { qo, oo }) => {
    const row = softmaxRow(L, ins, x.blocks, x.mask, x.scale, b, h, i);
    const dp = row.keys.map(([blk, j]) => dot(dy, oo, ins[blk.values!], rowOf(blk, b, h, j) + (blk.vCol ?? 0), L.dh));
    const D = dp.reduce((s, v, k) => s + row.p[k] * v, 0);
    row.keys.forEach(([blk, j], k) => {
      const ko = rowOf(blk, b, h, j) + (blk.kCol ?? 0);
      const ds = row.p[k] * (dp[k] - D);
      for (let d = 0; d < L.dh; d++) res.data[qo + d] += x.scale * ds * ins[blk.keys].data[ko + d];
    });
  });
  return res;
}

/** dk or dv of one block from the stored row statistics (lse, D); summed over batches when shared. */
export function gradKVReference(x: QuerySide & { readonly wrt: 'k' | 'v' }, ins: readonly HostTensor[], dy: HostTensor, stats: HostTensor, out: TensorType): HostTensor {
  const { L } = x;
  const blk = x.blocks[0];
  const res = hostZeros(out);
  forEachQuery(L, (b, h, i, { r, qo, oo }) => {
    for (let j = 0; j < blk.n; j++) {
      const ko = rowOf(blk, b, h, j);
      const go = at(blk.out ?? blk.strides, b, h, j);
      const p = visible(blk, i, j) ? Math.exp(score(L, ins, blk, x.mask, x.scale, b, h, i, j) - stats.data[2 * r]) : 0;
      const ds = x.wrt === 'k' ? p * (dot(dy, oo, ins[blk.values!], ko + (blk.vCol ?? 0), L.dh) - stats.data[2 * r + 1]) * x.scale : p;
      const [src, so] = x.wrt === 'k' ? [ins[0], qo] : [dy, oo];
      for (let d = 0; d < L.dh; d++) res.data[go + d] += ds * src.data[so + d];
    }
  });
  return res;
}
