// Shape rules shared by several ops: broadcasting, axis normalization, default costs.

import { bytesPerElement, formatShape, numel, ShapeError, stridesOf, type Shape, type TensorType } from '../graph/index.js';
import type { Cost } from './registry.js';

/** Numpy broadcasting of several shapes; throws naming every shape when they disagree. */
export function broadcastShapes(...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    let d = 1;
    for (const s of shapes) {
      const sd = s[s.length - rank + k] ?? 1;
      if (sd === 1) continue;
      if (d !== 1 && d !== sd) throw new ShapeError(`shapes ${shapes.map(formatShape).join(' and ')} do not broadcast (axis ${k - rank}: ${d} vs ${sd})`);
      d = sd;
    }
    out.push(d);
  }
  return out;
}

/** Maps a possibly negative axis into [0, rank). */
export function normalizeAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new ShapeError(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Index into an input broadcast to `outShape`, for output flat index `i` (CPU side of wgsl.broadcastIndex). */
export function broadcastIndexer(outShape: Shape, inShape: Shape): (i: number) => number {
  if (numel(inShape) === 1) return () => 0;
  const outStrides = stridesOf(outShape);
  const inStrides = stridesOf(inShape);
  const offset = outShape.length - inShape.length;
  const axes: [number, number, number][] = [];
  for (let k = 0; k < outShape.length; k++) {
    const ik = k - offset;
    if (ik < 0 || inShape[ik] === 1 || outShape[k] === 1) continue;
    axes.push([outStrides[k], outShape[k], inStrides[ik]]);
  }
  return (i) => {
    let j = 0;
    for (const [os, od, is] of axes) j += (Math.floor(i / os) % od) * is;
    return j;
  };
}

export function bytesOf(t: TensorType): number {
  return numel(t.shape) * bytesPerElement(t.dtype);
}

/** Cost of a kernel that reads every input once and writes the output, with `flopsPerElement` per output element. */
export function streamingCost(inputs: readonly TensorType[], out: TensorType, flopsPerElement: number): Cost {
  return { flops: numel(out.shape) * flopsPerElement, bytes: inputs.reduce((s, t) => s + bytesOf(t), 0) + bytesOf(out) };
}
