// Multi-head self-attention shared by GPT-2 and BERT. Written length-agnostic (reshapes use -1
// for the sequence axis) so a method may lengthen the key/value sequence (prefixes) and the
// types are re-inferred; queries, keys and values are marked for methods to find.

import type { GraphBuilder, Ref } from '../ops/index.js';
import { POINTS } from '../graph/index.js';

/** [B,S,D] -> [B,H,S,dh] */
export function splitHeads(b: GraphBuilder, x: Ref, heads: number): Ref {
  const [B, , D] = x.type.shape;
  return b.permute(b.reshape(x, [B, -1, heads, D / heads]), [0, 2, 1, 3]);
}

/** [B,H,S,dh] -> [B,S,D] */
export function mergeHeads(b: GraphBuilder, x: Ref): Ref {
  const [B, H, , dh] = x.type.shape;
  return b.reshape(b.permute(x, [0, 2, 1, 3]), [B, -1, H * dh]);
}

/**
 * softmax(q kᵀ / sqrt(dh) + mask) v over marked q, k, v; `mask` is additive and broadcast to
 * [B,H,S,T]. Returns [B,S,D].
 */
export function attention(b: GraphBuilder, q: Ref, k: Ref, v: Ref, heads: number, mask: Ref): Ref {
  const qh = b.mark(splitHeads(b, q, heads), POINTS.query);
  const kh = b.mark(splitHeads(b, k, heads), POINTS.key);
  const vh = b.mark(splitHeads(b, v, heads), POINTS.value);
  const dh = qh.type.shape[3];
  const scores = b.scale(b.matmul(qh, kh, { transB: true }), 1 / Math.sqrt(dh));
  const probs = b.softmax(scores, mask);
  return mergeHeads(b, b.matmul(probs, vh));
}
