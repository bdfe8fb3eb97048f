// Backward ops of `attention` (attention.ts), each one kernel that recomputes probabilities from
// q and k instead of reading a stored score matrix:
//   attention_grad_q   dq, from the forward's inputs and dO (two sweeps over the keys);
//   attention_stats    per query row (logsumexp of the scores, dO·O), shared by:
//   attention_grad_kv  dk or dv of one key block (the sequence's, or the prefix's, summed over
//                      the batch when the prefix has batch 1).
// Each binds at most 7 inputs plus its output, within the 8 storage buffers WebGPU guarantees.
// Every cotangent comes out in the layout (qLayout, kvLayout; see attention-layout.ts) of the
// input it belongs to, and dO is read in outLayout, so autodiff adds no permute.

import * as t from 'io-ts';
import { formatShape, sameShape, ShapeError, type TensorType } from '../../graph/index.js';
import { defineOp, type Kernel } from '../registry.js';
import { bytesOf } from '../shape.js';
import {
  AttentionAttrs, checkBlock, checkColumns, checkMask, checkQuery, columnStrides, forwardBlocks, forwardLayout, headShape, headStrides, layoutStrides, LayoutAttrs, PrefixAttrs,
  type AttentionLayout, type KeyBlock,
} from './attention-layout.js';
import { gradKVKernel, gradQKernel, statsKernel } from './attention-kernels.js';
import { gradKVReference, gradQReference, statsReference } from './attention-reference.js';
import { pairFlops } from './attention.js';

const bytes = (inputs: readonly TensorType[], out: TensorType): number => inputs.reduce((s, x) => s + bytesOf(x), 0) + bytesOf(out);

function checkLike(op: string, what: string, x: TensorType | undefined, shape: readonly number[]): void {
  if (!x || x.dtype !== 'f32' || !sameShape(x.shape, shape)) throw new ShapeError(`${op} ${what} must be f32[${shape.join(',')}], got ${x ? `${x.dtype}${formatShape(x.shape)}` : 'nothing'}`);
}

// ---- dq ---------------------------------------------------------------------------------------

/** The forward output's (and dO's) shape. */
const outShape = (L: AttentionLayout, a: LayoutAttrs): number[] => headShape(a.outLayout, L.B, L.H, L.S, L.dh);

/** Inputs: the forward's (q, k, v, [kp, vp], [mask]) then dO. */
function gradQLayout(inputs: readonly TensorType[], a: AttentionAttrs): AttentionLayout {
  const L = forwardLayout('attention_grad_q', inputs.slice(0, -1), a);
  checkLike('attention_grad_q', 'dy', inputs[inputs.length - 1], outShape(L, a));
  return L;
}

export const attentionGradQ = defineOp<AttentionAttrs>({
  name: 'attention_grad_q',
  doc: 'dq of attention: inputs as the forward\'s, then dy (backward of attention)',
  arity: 'variadic',
  attrs: AttentionAttrs,
  type(inputs, a) {
    gradQLayout(inputs, a);
    return inputs[0];
  },
  reference(ins, a, out) {
    const L = gradQLayout(ins, a);
    const x = { L, blocks: forwardBlocks(L, { k: 1, v: 2, kp: 3, vp: 4 }), mask: a.masked ? ins[ins.length - 2] : undefined, scale: a.scale };
    return gradQReference(x, ins, ins[ins.length - 1], out);
  },
  kernel({ inputs, output, attrs, target }): Kernel {
    const L = gradQLayout(inputs, attrs);
    const blocks = forwardBlocks(L, { k: 1, v: 2, kp: 3, vp: 4 });
    return gradQKernel({ L, blocks, maskInput: attrs.masked ? inputs.length - 2 : undefined, scale: attrs.scale, inputs, output, target }, inputs.length - 1);
  },
  cost(inputs, out, a) {
    const L = gradQLayout(inputs, a);
    return { flops: pairFlops(L, 10 * L.dh + 12), bytes: bytes(inputs, out) };
  },
});

// ---- row statistics -----------------------------------------------------------------------------

/** Inputs: q, k, [kp], [mask], dy, out (the forward's output). */
function statsLayout(inputs: readonly TensorType[], a: AttentionAttrs): AttentionLayout {
  const want = 4 + (a.prefix ? 1 : 0) + (a.masked ? 1 : 0);
  if (inputs.length !== want) throw new ShapeError(`attention_stats takes q, k${a.prefix ? ', kp' : ''}${a.masked ? ', mask' : ''}, dy, out (${want} inputs), got ${inputs.length}`);
  const [q, k] = inputs;
  const kp = a.prefix ? [inputs[2], inputs[2]] : [];
  // The forward's layout with the keys standing in for the values (same shapes and columns).
  const L = forwardLayout('attention_stats', [q, k, k, ...kp, ...(a.masked ? [inputs[want - 3]] : [])], a.prefixLayout === 'pc' ? { ...a, vpColumn: a.kpColumn } : a);
  checkLike('attention_stats', 'dy', inputs[want - 2], outShape(L, a));
  checkLike('attention_stats', 'out', inputs[want - 1], outShape(L, a));
  return L;
}

const statsBlocks = (L: AttentionLayout, a: AttentionAttrs): KeyBlock[] => forwardBlocks(L, { k: 1, kp: a.prefix ? 2 : undefined });

export const attentionStats = defineOp<AttentionAttrs>({
  name: 'attention_stats',
  doc: '[B,H,S,2]: per query row, logsumexp of the attention scores and dy·out (for the key-side backward)',
  arity: 'variadic',
  attrs: AttentionAttrs,
  type(inputs, a) {
    const L = statsLayout(inputs, a);
    return { shape: [L.B, L.H, L.S, 2], dtype: 'f32' };
  },
  reference(ins, a, out) {
    const L = statsLayout(ins, a);
    const n = ins.length;
    return statsReference({ L, blocks: statsBlocks(L, a), mask: a.masked ? ins[n - 3] : undefined, scale: a.scale }, ins, ins[n - 2], ins[n - 1], out);
  },
  kernel({ inputs, output, attrs, target }): Kernel {
    const L = statsLayout(inputs, attrs);
    const n = inputs.length;
    return statsKernel({ L, blocks: statsBlocks(L, attrs), maskInput: attrs.masked ? n - 3 : undefined, scale: attrs.scale, inputs, output, target }, n - 2, n - 1);
  },
  cost(inputs, out, a) {
    const L = statsLayout(inputs, a);
    return { flops: pairFlops(L, 2 * L.dh + 6) + 2 * L.B * L.H * L.S * L.dh, bytes: bytes(inputs, out) };
  },
});

// ---- dk, dv of one key block ------------------------------------------------------------------

/**
 * Layouts: q's, the block's (keys, values and the result; a prefix block is 'bhsd', or with
 * prefixLayout 'pc' keys and values [P,W] at columns kpColumn, vpColumn and the result [P,H*dh]) and dO's.
 */
const GradKVAttrs = t.intersection([LayoutAttrs, PrefixAttrs, t.type({
  scale: t.number,
  wrt: t.keyof({ k: null, v: null }),
  masked: t.boolean,
  /** Mask column of the block's key 0 (P for the sequence's keys behind a prefix the mask covers). */
  maskOffset: t.Int,
}), t.partial({
  /** The block is the sequence's, causal: key j sees queries i >= j - (n - S). */
  causal: t.boolean,
})]);
type GradKVAttrs = t.TypeOf<typeof GradKVAttrs>;

interface KVLayout {
  readonly L: AttentionLayout;
  readonly block: KeyBlock;
  readonly maskInput?: number;
  readonly dyInput: number;
  readonly statsInput: number;
}

/** The block a 'pc' op reads: keys (and values, wrt k) [P,W] at their columns, its gradient [P,H*dh]. */
function columnBlock(op: string, inputs: readonly TensorType[], q: { B: number; H: number; dh: number }, a: GradKVAttrs): { n: number; shared: boolean; cols: Pick<KeyBlock, 'strides' | 'kCol' | 'vCol' | 'out'> } {
  if (a.kvLayout === 'bshd') throw new ShapeError(`${op} kvLayout must be bhsd (or absent) with prefixLayout pc, got bshd`);
  const { P, W } = checkColumns(op, q, ['kp', inputs[1], a.kpColumn], a.wrt === 'k' ? ['vp', inputs[2], a.vpColumn] : undefined);
  const cols = { strides: columnStrides(W, q.dh), kCol: a.kpColumn, vCol: a.wrt === 'k' ? a.vpColumn : undefined, out: columnStrides(q.H * q.dh, q.dh) };
  return { n: P, shared: q.B > 1, cols };
}

/**
 * Inputs: q, keys [1 or B,H,n,dh] (or [B,n,H,dh], or [P,W] with prefixLayout 'pc'), values
 * (wrt k only), [mask], dy, stats.
 */
function kvLayout(inputs: readonly TensorType[], a: GradKVAttrs): KVLayout {
  const op = 'attention_grad_kv';
  const want = 4 + (a.wrt === 'k' ? 1 : 0) + (a.masked ? 1 : 0);
  if (inputs.length !== want) throw new ShapeError(`${op} takes q, keys${a.wrt === 'k' ? ', values' : ''}${a.masked ? ', mask' : ''}, dy, stats (${want} inputs) for wrt=${a.wrt}, got ${inputs.length}`);
  const q = checkQuery(op, inputs[0], a.qLayout);
  const pc = a.prefixLayout === 'pc' ? columnBlock(op, inputs, q, a) : undefined;
  const { n, Bk } = pc ? { n: pc.n, Bk: 1 } : checkBlock(op, 'keys', inputs[1], q, a.kvLayout !== 'bshd', a.kvLayout);
  if (a.wrt === 'k' && !pc) checkLike(op, 'values', inputs[2], inputs[1].shape);
  if (a.maskOffset < 0) throw new ShapeError(`${op} maskOffset must be >= 0, got ${a.maskOffset}`);
  const maskInput = a.masked ? want - 3 : undefined;
  const mask = maskInput === undefined ? undefined : checkMask(op, inputs[maskInput], q, (w) => w >= a.maskOffset + n, `>= ${a.maskOffset + n} (maskOffset + keys)`);
  checkLike(op, 'dy', inputs[want - 2], headShape(a.outLayout, q.B, q.H, q.S, q.dh));
  checkLike(op, 'stats', inputs[want - 1], [q.B, q.H, q.S, 2]);
  if (a.causal && n < q.S) throw new ShapeError(`${op} causal keys need at least as many keys as queries, got ${formatShape(inputs[1].shape)} for q ${formatShape(inputs[0].shape)}`);
  const L: AttentionLayout = { ...q, T: n, P: 0, Bp: q.B, mask, ...layoutStrides(q, a), kvLayout: a.kvLayout };
  const shared = Bk === 1 && q.B > 1;
  const block: KeyBlock = {
    keys: 1, values: a.wrt === 'k' ? 2 : undefined, n, shared, strides: headStrides(a.kvLayout, q.H, n, q.dh, shared), maskCol: a.masked ? a.maskOffset : undefined, causal: a.causal ? n - q.S : undefined, ...pc?.cols,
  };
  return { L, block, maskInput, dyInput: want - 2, statsInput: want - 1 };
}

export const attentionGradKV = defineOp<GradKVAttrs>({
  name: 'attention_grad_kv',
  doc: 'dk or dv (wrt) of one attention key block from q, the block, dy and attention_stats; a batch-1 block sums over the batch; a prefixLayout \'pc\' block [P,W] read at its columns gives [P,H*dh]',
  arity: 'variadic',
  attrs: GradKVAttrs,
  type(inputs, a) {
    const { L } = kvLayout(inputs, a);
    return a.prefixLayout === 'pc' ? { shape: [L.T, L.H * L.dh], dtype: 'f32' } : inputs[1];
  },
  reference(ins, a, out) {
    const x = kvLayout(ins, a);
    return gradKVReference({ L: x.L, blocks: [x.block], mask: x.maskInput === undefined ? undefined : ins[x.maskInput], scale: a.scale, wrt: a.wrt }, ins, ins[x.dyInput], ins[x.statsInput], out);
  },
  kernel({ inputs, output, attrs, target }): Kernel {
    const x = kvLayout(inputs, attrs);
    return gradKVKernel({ ...x, wrt: attrs.wrt, scale: attrs.scale, inputs, output, target });
  },
  cost(inputs, out, a) {
    const { L } = kvLayout(inputs, a);
    return { flops: pairFlops(L, (a.wrt === 'k' ? 6 : 4) * L.dh + 8), bytes: bytes(inputs, out) };
  },
});
