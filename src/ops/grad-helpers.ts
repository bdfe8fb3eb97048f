// Helpers shared by gradient rules.

import { sameShape, type Shape } from '../graph/index.js';
import type { GraphBuilder, Ref } from './builder.js';

/** Sums a cotangent of a broadcast result back to the shape of the input that was broadcast. */
export function unbroadcast(b: GraphBuilder, g: Ref, shape: Shape): Ref {
  if (sameShape(g.type.shape, shape)) return g;
  const gs = g.type.shape;
  const lead = gs.length - shape.length;
  const axes: number[] = [];
  for (let k = 0; k < gs.length; k++) {
    if (k < lead || (shape[k - lead] === 1 && gs[k] !== 1)) axes.push(k);
  }
  // Leading axes of size 1 need no sum, only the reshape.
  const summed = axes.filter((k) => gs[k] !== 1);
  return b.reshape(summed.length ? b.sum(g, summed, true) : g, shape);
}

/** A zero tensor shaped like `like`. */
export function zerosLike(b: GraphBuilder, like: Ref): Ref {
  return b.constant(0, like.type.shape, like.type.dtype);
}
