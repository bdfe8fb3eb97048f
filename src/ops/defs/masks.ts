// Additive attention masks: 0 where attention is allowed, MASK_NEG where it is not, added to
// scores before softmax. A large finite negative rather than -inf keeps a fully masked row
// finite (softmax of all -1e9 is uniform, not NaN).

import * as t from 'io-ts';
import { formatType, numel, ShapeError } from '../../graph/index.js';
import { defineOp } from '../registry.js';
import { hostZeros } from '../host.js';
import { bytesOf, streamingCost } from '../shape.js';
import { f32, load } from '../wgsl.js';
import { perElementKernel } from './shape.js';

export const MASK_NEG = -1e9;

export const causalMask = defineOp({
  name: 'causal_mask',
  doc: 'f32 [queries, keys]: 0 where key j <= i + (keys - queries), else MASK_NEG (queries are the last positions)',
  arity: 0,
  attrs: t.type({ queries: t.Int, keys: t.Int }),
  type(_in, a) {
    if (a.queries < 0 || a.keys < 0) throw new ShapeError(`causal_mask needs queries >= 0 and keys >= 0, got ${a.queries} and ${a.keys}`);
    return { shape: [a.queries, a.keys], dtype: 'f32' };
  },
  reference(_in, a, out) {
    const res = hostZeros(out);
    for (let i = 0; i < a.queries; i++) {
      for (let j = 0; j < a.keys; j++) res.data[i * a.keys + j] = j <= i + (a.keys - a.queries) ? 0 : MASK_NEG;
    }
    return res;
  },
  kernel: ({ output, attrs, target }) => perElementKernel([], output, target, 'causal_mask.fill',
    // Signed: with fewer keys than queries the offset is negative.
    `  let q = i32(i / ${attrs.keys}u);\n  let k = i32(i % ${attrs.keys}u);\n` +
    `  out[i] = select(${f32(MASK_NEG)}, 0.0f, k <= q + (${attrs.keys - attrs.queries}i));`),
  cost: (_in, out) => ({ flops: numel(out.shape), bytes: bytesOf(out) }),
  grad: () => [],
});

export const paddingMask = defineOp({
  name: 'padding_mask',
  doc: 'f32 [B,1,1,S] from a 0/1 attention mask [B,S] (i32 or f32): 0 where mask != 0, MASK_NEG where 0',
  arity: 1,
  attrs: t.type({}),
  type([m]) {
    if (m.shape.length !== 2 || (m.dtype !== 'i32' && m.dtype !== 'f32')) {
      throw new ShapeError(`padding_mask takes an i32 or f32 attention mask [B,S], got ${formatType(m)}`);
    }
    return { shape: [m.shape[0], 1, 1, m.shape[1]], dtype: 'f32' };
  },
  reference([m], _a, out) {
    const res = hostZeros(out);
    for (let i = 0; i < res.data.length; i++) res.data[i] = m.data[i] !== 0 ? 0 : MASK_NEG;
    return res;
  },
  kernel: ({ inputs: [m], output, target }) => perElementKernel([m], output, target, 'padding_mask.map',
    `  out[i] = select(${f32(MASK_NEG)}, 0.0f, ${load(0, m, 'i')} != 0.0f);`),
  cost: (inputs, out) => streamingCost(inputs, out, 1),
  // The mask is data, not a differentiable input.
  grad: () => [null],
});
