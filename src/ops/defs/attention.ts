// `attention`: softmax(scale · q [kp; k]ᵀ + mask) [vp; v] in one kernel, reading an optional
// key/value prefix (prefix-tuning, P-tuning v2, a decode step's cache) in front of the sequence's
// keys without a concatenated or batch-broadcast copy, and never storing the score matrix. The
// `fuse-attention` pass creates it from the unfused matmul -> scale -> softmax -> matmul chain.
// Backward: attention-grad.ts (dq from the inputs alone; dk, dv, dkp, dvp from per-row statistics).

import { defineOp, type Kernel } from '../registry.js';
import { bytesOf } from '../shape.js';
import type { Ref } from '../builder.js';
import { AttentionAttrs, forwardBlocks, forwardLayout, headShape, type AttentionLayout } from './attention-layout.js';
import { forwardKernel } from './attention-kernels.js';
import { forwardReference } from './attention-reference.js';

export { AttentionAttrs };

/** FLOPs of one sweep over every (query, key) pair costing `perPair`. */
export const pairFlops = (L: AttentionLayout, perPair: number): number => L.B * L.H * L.S * (L.P + L.T) * perPair;

export const attention = defineOp<AttentionAttrs>({
  name: 'attention',
  doc: 'softmax(scale·q·[kp;k]ᵀ + mask)·[vp;v] per head: q [B,H,S,dh], k/v [B,H,T,dh], out [B,H,S,dh] (each [B,·,H,dh] with qLayout/kvLayout/outLayout \'bshd\'), optional prefix kp/vp [1 or B,H,P,dh] (or, with prefixLayout \'pc\', [P,W] read at columns kpColumn/vpColumn + h*dh), optional additive mask',
  arity: 'variadic',
  attrs: AttentionAttrs,
  type(inputs, a) {
    const L = forwardLayout('attention', inputs, a);
    return { shape: headShape(a.outLayout, L.B, L.H, L.S, L.dh), dtype: 'f32' };
  },
  reference(ins, a, out) {
    const L = forwardLayout('attention', ins, a);
    return forwardReference({ L, blocks: forwardBlocks(L, { k: 1, v: 2, kp: 3, vp: 4 }), mask: a.masked ? ins[ins.length - 1] : undefined, scale: a.scale }, ins, out);
  },
  kernel({ inputs, output, attrs, target }): Kernel {
    const L = forwardLayout('attention', inputs, attrs);
    const blocks = forwardBlocks(L, { k: 1, v: 2, kp: 3, vp: 4 });
    return forwardKernel({ L, blocks, maskInput: attrs.masked ? inputs.length - 1 : undefined, scale: attrs.scale, inputs, output, target });
  },
  cost(inputs, out, a) {
    const L = forwardLayout('attention', inputs, a);
    return { flops: pairFlops(L, 4 * L.dh + 6), bytes: inputs.reduce((s, x) => s + bytesOf(x), 0) + bytesOf(out) };
  },
  grad(b, { inputs, output, attrs, needs }, dy) {
    const [q, k, v, kp, vp] = inputs;
    const L = forwardLayout('attention', inputs.map((x) => x.type), attrs);
    const mask: Ref[] = attrs.masked ? [inputs[inputs.length - 1]] : [];
    const prefix = attrs.prefix ? [kp, vp] : [];
    const res: (Ref | null)[] = inputs.map(() => null);
    if (needs[0]) res[0] = b.op('attention_grad_q', [...inputs, dy], attrs);
    const kv = [1, 2, ...(attrs.prefix ? [3, 4] : [])].filter((i) => needs[i]);
    if (kv.length === 0) return res;
    const stats = b.op('attention_stats', [q, k, ...(attrs.prefix ? [kp] : []), ...mask, dy, output], attrs);
    // The sequence keys read mask columns W-T.., the prefix's 0..P-1 when the mask covers them.
    const seqCol = L.mask ? L.mask.width - L.T : 0;
    const prefixMasked = L.mask !== undefined && L.mask.width === L.P + L.T;
    // Layouts: q's and dO's as the forward's; the block's own (the prefix is always 'bhsd'), so
    // each cotangent comes out in the layout of the input it belongs to.
    const layouts = (isPrefix: boolean): Record<string, string> => {
      const r: Record<string, string> = {};
      if (attrs.qLayout === 'bshd') r.qLayout = 'bshd';
      if (attrs.outLayout === 'bshd') r.outLayout = 'bshd';
      if (attrs.kvLayout === 'bshd' && !isPrefix) r.kvLayout = 'bshd';
      return r;
    };
    // A 'pc' prefix block is read at its columns of [P,W] tensors and its gradient comes out
    // [P,H*dh], padded to [P,W] at the columns it was read from (pads-to-concat merges the pads).
    const pc = attrs.prefix && attrs.prefixLayout === 'pc';
    const columns = (wrt: 'k' | 'v'): Record<string, string | number> => ({ prefixLayout: 'pc', kpColumn: attrs.kpColumn!, ...(wrt === 'k' ? { vpColumn: attrs.vpColumn! } : {}) });
    const grad = (wrt: 'k' | 'v', keys: Ref, vals: Ref, masked: boolean, maskOffset: number, causal: boolean, isPrefix: boolean): Ref =>
      b.op('attention_grad_kv', [q, keys, ...(wrt === 'k' ? [vals] : []), ...(masked ? mask : []), dy, stats], {
        scale: attrs.scale, wrt, masked, maskOffset, ...(causal ? { causal } : {}), ...layouts(isPrefix), ...(isPrefix && pc ? columns(wrt) : {}),
      });
    for (const i of kv) {
      const isPrefix = i >= 3;
      const [keys, vals] = isPrefix ? prefix : [k, v];
      const g = grad(i % 2 === 1 ? 'k' : 'v', keys, vals, isPrefix ? prefixMasked : attrs.masked, isPrefix ? 0 : seqCol, !isPrefix && attrs.causal === true, isPrefix);
      const col = i === 3 ? attrs.kpColumn! : attrs.vpColumn!;
      res[i] = isPrefix && pc ? b.pad(g, 1, col, inputs[i].type.shape[1] - col - L.H * L.dh) : g;
    }
    // The mask is data: no gradient (the fuse-attention pass leaves trainable masks unfused).
    return res;
  },
});

