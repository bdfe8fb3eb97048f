// Layout ops: reshape, permute, broadcast_to, concat, slice, pad. They only move data, so every
// kernel is a gather: each output element computes where it comes from and copies it in its
// storage type (no conversion, so i32 and f16 move bit for bit).

import * as t from 'io-ts';
import { formatShape, formatType, numel, sameShape, ShapeError, stridesOf, type Shape, type TensorType } from '../../graph/index.js';
import { defineOp, type Kernel, type KernelTarget } from '../registry.js';
import { hostZeros, type HostTensor } from '../host.js';
import { broadcastIndexer, broadcastShapes, normalizeAxis, streamingCost } from '../shape.js';
import { bindings, broadcastIndex, entry, linearGrid, wgslType } from '../wgsl.js';
import { unbroadcast } from '../grad-helpers.js';

// ---- helpers shared with indexing.ts and masks.ts ---------------------------------------------

/**
 * A kernel with one invocation per output element: `body` is WGSL that assigns `out[i]` from
 * the flat index `i`. An empty output is never dispatched, so its body is left out: index math
 * over a zero extent could otherwise divide by a constant zero, which WGSL rejects.
 */
export function perElementKernel(inputs: readonly TensorType[], output: TensorType, target: KernelTarget, variant: string, body: string): Kernel {
  const n = numel(output.shape);
  const grid = linearGrid(n, target);
  const code = `${bindings(inputs, output)}\n${entry(grid.workgroupSize)} {\n  ${grid.prologue}\n${n === 0 ? '' : body}\n}\n`;
  return { variant, workgroups: grid.workgroups, code };
}

/** A shape seen as [outer, dim, inner] around one axis, the layout every single-axis op works in. */
export interface AxisSplit {
  readonly outer: number;
  readonly dim: number;
  readonly inner: number;
}

export function splitAt(shape: Shape, axis: number): AxisSplit {
  return { outer: numel(shape.slice(0, axis)), dim: shape[axis], inner: numel(shape.slice(axis + 1)) };
}

/** WGSL defining `o`, `a`, `r` (outer, axis and inner coordinates) of output index `i`; needs dim, inner > 0. */
export function axisCoords(s: AxisSplit): string {
  return `  let r = i % ${s.inner}u;\n  let a = (i / ${s.inner}u) % ${s.dim}u;\n  let o = i / ${s.inner * s.dim}u;\n`;
}

/** The zero of a dtype in WGSL. */
export function zeroOf(x: TensorType): string {
  return `${wgslType(x.dtype)}(0)`;
}

/** Copies `count` elements from `src` at `from` to `dst` at `to` (data movement in references). */
function copy(src: HostTensor, from: number, dst: HostTensor, to: number, count: number): void {
  dst.data.set(src.data.subarray(from, from + count), to);
}

const moveCost = (inputs: readonly TensorType[], out: TensorType) => streamingCost(inputs, out, 0);

function sameDType(inputs: readonly TensorType[]): void {
  inputs.forEach((x, k) => {
    if (x.dtype !== inputs[0].dtype) throw new ShapeError(`input ${k} is ${formatType(x)} but input 0 is ${formatType(inputs[0])}`);
  });
}

// ---- reshape ------------------------------------------------------------------------------------

/** The target shape with its -1 (if any) filled in; throws naming both shapes when sizes disagree. */
export function resolveReshape(from: Shape, to: readonly number[]): number[] {
  const n = numel(from);
  const holes = to.filter((d) => d === -1).length;
  if (holes > 1 || to.some((d) => d < -1)) throw new ShapeError(`reshape target ${formatShape(to)} may hold one -1 and no other negative size`);
  const known = numel(to.filter((d) => d !== -1));
  if (holes === 0) {
    if (known !== n) throw new ShapeError(`cannot reshape ${formatShape(from)} (${n} elements) to ${formatShape(to)} (${known} elements)`);
    return [...to];
  }
  if (known === 0 || n % known !== 0) throw new ShapeError(`cannot reshape ${formatShape(from)} (${n} elements) to ${formatShape(to)}: no size for -1 gives ${n} elements`);
  return to.map((d) => (d === -1 ? n / known : d));
}

export const reshape = defineOp({
  name: 'reshape',
  doc: 'same elements in row-major order under a new shape (one size may be -1: inferred)',
  arity: 1,
  attrs: t.type({ shape: t.array(t.Int) }),
  type: ([x], a) => ({ shape: resolveReshape(x.shape, a.shape), dtype: x.dtype }),
  reference: ([x], _a, out) => ({ shape: [...out.shape], dtype: x.dtype, data: x.data.slice() }),
  // A view in compiled programs (no kernel, no memory); the copy runs where the value is a graph output.
  view: true,
  kernel: ({ inputs, output, target }) => perElementKernel(inputs, output, target, 'reshape.copy', '  out[i] = in0[i];'),
  cost: moveCost,
  grad: (b, { inputs: [x] }, dy) => [b.reshape(dy, x.type.shape)],
});

// ---- permute ------------------------------------------------------------------------------------

function checkPerm(perm: readonly number[], shape: Shape): number[] {
  const norm = perm.map((p) => (p < 0 ? p + shape.length : p));
  const ok = perm.length === shape.length && norm.every((p) => p >= 0 && p < shape.length) && new Set(norm).size === norm.length;
  if (!ok) throw new ShapeError(`perm ${formatShape(perm)} is not a permutation of the ${shape.length} axes of ${formatShape(shape)}`);
  return norm;
}

/** For each output axis k, the input stride it walks (input axis perm[k]). */
function permStrides(inShape: Shape, perm: readonly number[]): number[] {
  const s = stridesOf(inShape);
  return perm.map((p) => s[p]);
}

export const permute = defineOp({
  name: 'permute',
  doc: 'reorders axes: output axis k is input axis perm[k]',
  arity: 1,
  attrs: t.type({ perm: t.array(t.Int) }),
  type: ([x], a) => ({ shape: checkPerm(a.perm, x.shape).map((p) => x.shape[p]), dtype: x.dtype }),
  reference([x], a, out) {
    const res = hostZeros(out);
    const os = stridesOf(out.shape);
    const is = permStrides(x.shape, checkPerm(a.perm, x.shape));
    for (let i = 0; i < res.data.length; i++) {
      let j = 0;
      for (let k = 0; k < os.length; k++) j += (Math.floor(i / os[k]) % out.shape[k]) * is[k];
      res.data[i] = x.data[j];
    }
    return res;
  },
  kernel({ inputs: [x], output, attrs, target }) {
    const os = stridesOf(output.shape);
    const is = permStrides(x.shape, checkPerm(attrs.perm, x.shape));
    // Axes of size 1 contribute nothing; the rest each add coordinate * input stride.
    const terms = output.shape.flatMap((d, k) => (d === 1 ? [] : [`((i / ${os[k]}u) % ${d}u) * ${is[k]}u`]));
    return perElementKernel([x], output, target, 'permute.gather', `  out[i] = in0[${terms.join(' + ') || '0u'}];`);
  },
  cost: moveCost,
  grad: (b, { inputs: [x], attrs }, dy) => {
    const perm = checkPerm(attrs.perm, x.type.shape);
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, k) => (inverse[p] = k));
    return [b.permute(dy, inverse)];
  },
});

// ---- broadcast_to -------------------------------------------------------------------------------

export const broadcastTo = defineOp({
  name: 'broadcast_to',
  doc: 'repeats x along new leading axes and axes of size 1 (numpy rules) to `shape`',
  arity: 1,
  attrs: t.type({ shape: t.array(t.Int) }),
  type([x], a) {
    const ok = a.shape.every((d) => d >= 0) && sameShape(broadcastShapes(x.shape, a.shape), a.shape);
    if (!ok) throw new ShapeError(`cannot broadcast ${formatShape(x.shape)} to ${formatShape(a.shape)}`);
    return { shape: [...a.shape], dtype: x.dtype };
  },
  reference([x], _a, out) {
    const res = hostZeros(out);
    const src = broadcastIndexer(out.shape, x.shape);
    for (let i = 0; i < res.data.length; i++) res.data[i] = x.data[src(i)];
    return res;
  },
  kernel: ({ inputs: [x], output, target }) =>
    perElementKernel([x], output, target, 'broadcast_to.gather', `  out[i] = in0[${broadcastIndex(output.shape, x.shape, 'i')}];`),
  cost: moveCost,
  // Adding only size-1 axes repeats nothing, so the backward is a plain reshape (no reduction).
  grad: (b, { inputs: [x] }, dy) =>
    [numel(dy.type.shape) === numel(x.type.shape) ? b.reshape(dy, x.type.shape) : unbroadcast(b, dy, x.type.shape)],
});

// ---- concat -------------------------------------------------------------------------------------

export const concat = defineOp({
  name: 'concat',
  doc: 'joins inputs (same dtype, same shape but along `axis`) end to end along `axis`',
  arity: 'variadic',
  attrs: t.type({ axis: t.Int }),
  type(inputs, a) {
    const first = inputs[0];
    const axis = normalizeAxis(a.axis, first.shape.length, 'concat axis');
    sameDType(inputs);
    let total = 0;
    inputs.forEach((x, k) => {
      const agree = x.shape.length === first.shape.length && x.shape.every((d, j) => j === axis || d === first.shape[j]);
      if (!agree) throw new ShapeError(`input ${k} has shape ${formatShape(x.shape)} but input 0 has ${formatShape(first.shape)}: they must agree on every axis but ${axis}`);
      total += x.shape[axis];
    });
    const shape = [...first.shape];
    shape[axis] = total;
    return { shape, dtype: first.dtype };
  },
  reference(inputs, a, out) {
    const res = hostZeros(out);
    const axis = normalizeAxis(a.axis, out.shape.length);
    const o = splitAt(out.shape, axis);
    let offset = 0;
    for (const x of inputs) {
      const block = x.shape[axis] * o.inner;
      for (let q = 0; q < o.outer; q++) copy(x, q * block, res, (q * o.dim * o.inner) + offset, block);
      offset += block;
    }
    return res;
  },
  kernel({ inputs, output, attrs, target }) {
    const axis = normalizeAxis(attrs.axis, output.shape.length);
    const s = splitAt(output.shape, axis);
    // The input holding axis coordinate `a` is found by comparing against running offsets.
    let offset = 0;
    const branches: string[] = [];
    inputs.forEach((x, k) => {
      const d = x.shape[axis];
      if (d > 0) branches.push(`if (a < ${offset + d}u) { out[i] = in${k}[(o * ${d}u + a - ${offset}u) * ${s.inner}u + r]; return; }`);
      offset += d;
    });
    return perElementKernel(inputs, output, target, 'concat.gather', `${axisCoords(s)}  ${branches.join('\n  ')}`);
  },
  cost: moveCost,
  grad(b, { inputs, attrs, needs }, dy) {
    const axis = normalizeAxis(attrs.axis, dy.type.shape.length);
    let offset = 0;
    return inputs.map((x, k) => {
      const d = x.type.shape[axis];
      offset += d;
      return needs[k] ? b.slice(dy, axis, offset - d, offset) : null;
    });
  },
});

// ---- slice and pad ------------------------------------------------------------------------------

/**
 * The half-open range [start, end) a slice takes along an axis of length `dim`. Negative bounds
 * count from the end as in Python (`end: -1` drops the last element), so a slice written for
 * one sequence length still means the same after a method lengthens the sequence.
 */
export function sliceRange(a: { start: number; end: number }, dim: number): [number, number] {
  const end = a.end === SLICE_TO_END ? dim : a.end < 0 ? a.end + dim : a.end;
  return [a.start < 0 ? a.start + dim : a.start, end];
}

/** `end` meaning "through the last element", whatever the length (Python's `x[a:]`). */
export const SLICE_TO_END = 2147483647;

export const slice = defineOp({
  name: 'slice',
  doc: 'the elements with start <= index < end along `axis` (negative bounds count from the end)',
  arity: 1,
  attrs: t.type({ axis: t.Int, start: t.Int, end: t.Int }),
  type([x], a) {
    const axis = normalizeAxis(a.axis, x.shape.length, 'slice axis');
    const dim = x.shape[axis];
    const [start, end] = sliceRange(a, dim);
    if (!(start >= 0 && start <= end && end <= dim)) {
      throw new ShapeError(`slice [${a.start}, ${a.end}) of axis ${a.axis} is not within [0, ${dim}] of ${formatShape(x.shape)}`);
    }
    const shape = [...x.shape];
    shape[axis] = end - start;
    return { shape, dtype: x.dtype };
  },
  reference([x], a, out) {
    const res = hostZeros(out);
    const axis = normalizeAxis(a.axis, x.shape.length);
    const s = splitAt(x.shape, axis);
    const [start, end] = sliceRange(a, s.dim);
    const block = (end - start) * s.inner;
    for (let q = 0; q < s.outer; q++) copy(x, (q * s.dim + start) * s.inner, res, q * block, block);
    return res;
  },
  kernel({ inputs: [x], output, attrs, target }) {
    const axis = normalizeAxis(attrs.axis, x.shape.length);
    const s = splitAt(output.shape, axis);
    const [start] = sliceRange(attrs, x.shape[axis]);
    const body = `${axisCoords(s)}  out[i] = in0[(o * ${x.shape[axis]}u + a + ${start}u) * ${s.inner}u + r];`;
    return perElementKernel([x], output, target, 'slice.gather', body);
  },
  cost: moveCost,
  grad: (b, { inputs: [x], attrs }, dy) => {
    const axis = normalizeAxis(attrs.axis, x.type.shape.length);
    const [start, end] = sliceRange(attrs, x.type.shape[axis]);
    return [b.pad(dy, axis, start, x.type.shape[axis] - end)];
  },
});

/** Zero padding along one axis: the backward of slice in one kernel, without zero constants. */
export const pad = defineOp({
  name: 'pad',
  doc: '`before` zeros, then x, then `after` zeros along `axis`',
  arity: 1,
  attrs: t.type({ axis: t.Int, before: t.Int, after: t.Int }),
  type([x], a) {
    const axis = normalizeAxis(a.axis, x.shape.length, 'pad axis');
    if (a.before < 0 || a.after < 0) throw new ShapeError(`pad of ${formatShape(x.shape)} needs before >= 0 and after >= 0, got ${a.before} and ${a.after}`);
    const shape = [...x.shape];
    shape[axis] += a.before + a.after;
    return { shape, dtype: x.dtype };
  },
  reference([x], a, out) {
    const res = hostZeros(out);
    const axis = normalizeAxis(a.axis, x.shape.length);
    const s = splitAt(x.shape, axis);
    const block = s.dim * s.inner;
    const outBlock = out.shape[axis] * s.inner;
    for (let q = 0; q < s.outer; q++) copy(x, q * block, res, q * outBlock + a.before * s.inner, block);
    return res;
  },
  kernel({ inputs: [x], output, attrs, target }) {
    const axis = normalizeAxis(attrs.axis, x.shape.length);
    const s = splitAt(output.shape, axis);
    const dim = x.shape[axis];
    const body = dim === 0
      ? `  out[i] = ${zeroOf(output)};`
      : `${axisCoords(s)}  if (a < ${attrs.before}u || a >= ${attrs.before + dim}u) { out[i] = ${zeroOf(output)}; return; }\n` +
        `  out[i] = in0[(o * ${dim}u + a - ${attrs.before}u) * ${s.inner}u + r];`;
    return perElementKernel([x], output, target, 'pad.gather', body);
  },
  cost: moveCost,
  grad: (b, { inputs: [x], attrs }, dy) => {
    const axis = normalizeAxis(attrs.axis, x.type.shape.length);
    return [b.slice(dy, axis, attrs.before, attrs.before + x.type.shape[axis])];
  },
});
