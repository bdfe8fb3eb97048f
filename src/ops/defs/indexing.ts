// Indexing ops: gather (embedding lookup) and scatter / scatter_add (its adjoints). WGSL has no
// float atomics, so scatters run gather-style too: each output element loops over the indices
// and picks (scatter) or sums in index order (scatter_add) the updates aimed at it. That costs
// O(out * len(indices)) but is deterministic, and len(indices) is small where these are used.

import * as t from 'io-ts';
import { formatShape, formatType, numel, ShapeError, type TensorType } from '../../graph/index.js';
import { defineOp, type Cost } from '../registry.js';
import { hostZeros } from '../host.js';
import { bytesOf, normalizeAxis } from '../shape.js';
import { zerosLike } from '../grad-helpers.js';
import { axisCoords, perElementKernel, splitAt, zeroOf } from './shape.js';

const AxisAttrs = t.type({ axis: t.Int });

function checkIndices(indices: TensorType, what: string): void {
  if (indices.dtype !== 'i32') throw new ShapeError(`${what} indices must be i32, got ${formatType(indices)}`);
}

// ---- gather -------------------------------------------------------------------------------------

export const gather = defineOp({
  name: 'gather',
  doc: 'table indexed along `axis` by i32 indices: shape table[:axis] + indices + table[axis+1:]; out of range gives 0',
  arity: 2,
  attrs: AxisAttrs,
  type([table, indices], a) {
    const axis = normalizeAxis(a.axis, table.shape.length, 'gather axis');
    checkIndices(indices, 'gather');
    return { shape: [...table.shape.slice(0, axis), ...indices.shape, ...table.shape.slice(axis + 1)], dtype: table.dtype };
  },
  reference([table, indices], a, out) {
    const res = hostZeros(out);
    const s = splitAt(table.shape, normalizeAxis(a.axis, table.shape.length));
    const k = indices.data.length;
    for (let q = 0; q < s.outer; q++) {
      for (let j = 0; j < k; j++) {
        const n = indices.data[j];
        if (n < 0 || n >= s.dim) continue; // stays 0
        res.data.set(table.data.subarray((q * s.dim + n) * s.inner, (q * s.dim + n + 1) * s.inner), (q * k + j) * s.inner);
      }
    }
    return res;
  },
  kernel({ inputs: [table, indices], output, attrs, target }) {
    const axis = normalizeAxis(attrs.axis, table.shape.length);
    const s = splitAt(table.shape, axis);
    const body = `${axisCoords({ outer: s.outer, dim: numel(indices.shape), inner: s.inner })}` +
      `  let n = in1[a];\n` +
      `  if (n < 0i || n >= ${s.dim}i) { out[i] = ${zeroOf(output)}; return; }\n` +
      `  out[i] = in0[(o * ${s.dim}u + u32(n)) * ${s.inner}u + r];`;
    return perElementKernel([table, indices], output, target, 'gather.rows', body);
  },
  cost: ([, indices], out): Cost => ({ flops: 0, bytes: 2 * bytesOf(out) + bytesOf(indices) }),
  grad(b, { inputs: [table, indices], attrs, needs }, dy) {
    if (!needs[0] || table.type.dtype === 'i32') return [null, null];
    // scatter_add takes 1-D indices: flatten them, and dy's index axes with them.
    const axis = normalizeAxis(attrs.axis, table.type.shape.length);
    const k = numel(indices.type.shape);
    const flatDy = b.reshape(dy, [...table.type.shape.slice(0, axis), k, ...table.type.shape.slice(axis + 1)]);
    return [b.scatterAdd(zerosLike(b, table), b.reshape(indices, [k]), flatDy, axis), null];
  },
});

// ---- scatter and scatter_add --------------------------------------------------------------------

function scatterType([base, indices, updates]: readonly TensorType[], a: { axis: number }, name: string): TensorType {
  const axis = normalizeAxis(a.axis, base.shape.length, `${name} axis`);
  checkIndices(indices, name);
  if (indices.shape.length !== 1) throw new ShapeError(`${name} indices must be 1-D, got ${formatShape(indices.shape)}`);
  const expected = [...base.shape];
  expected[axis] = indices.shape[0];
  const agree = updates.shape.length === expected.length && updates.shape.every((d, k) => d === expected[k]);
  if (!agree) throw new ShapeError(`${name} updates ${formatShape(updates.shape)} should be ${formatShape(expected)}: base ${formatShape(base.shape)} with axis ${axis} of size len(indices) = ${indices.shape[0]}`);
  if (updates.dtype !== base.dtype) throw new ShapeError(`${name} updates are ${formatType(updates)} but base is ${formatType(base)}`);
  return { shape: [...base.shape], dtype: base.dtype };
}

// Each output element scans all indices: count the comparisons as flops.
const scatterCost = ([base, indices, updates]: readonly TensorType[], out: TensorType): Cost =>
  ({ flops: numel(out.shape) * numel(indices.shape), bytes: bytesOf(base) + bytesOf(indices) + bytesOf(updates) + bytesOf(out) });

/**
 * Replaces the slices of `base` along `axis` at positions indices[j] by slice j of `updates`.
 * When an index repeats, the last j wins; indices out of [0, dim) are ignored.
 */
export const scatter = defineOp({
  name: 'scatter',
  doc: 'base with slices at indices[j] along `axis` replaced by updates slice j (last duplicate wins; out of range ignored)',
  arity: 3,
  attrs: AxisAttrs,
  type: (inputs, a) => scatterType(inputs, a, 'scatter'),
  reference([base, indices, updates], a, out) {
    const res = hostZeros(out);
    res.data.set(base.data);
    const s = splitAt(base.shape, normalizeAxis(a.axis, base.shape.length));
    const k = indices.data.length;
    for (let j = 0; j < k; j++) { // in order, so a later duplicate overwrites an earlier one
      const n = indices.data[j];
      if (n < 0 || n >= s.dim) continue;
      for (let q = 0; q < s.outer; q++) {
        res.data.set(updates.data.subarray((q * k + j) * s.inner, (q * k + j + 1) * s.inner), (q * s.dim + n) * s.inner);
      }
    }
    return res;
  },
  kernel({ inputs, output, attrs, target }) {
    const s = splitAt(output.shape, normalizeAxis(attrs.axis, output.shape.length));
    const k = numel(inputs[1].shape);
    // Scanning from the last index down makes the first hit the winning duplicate.
    const body = `${axisCoords(s)}` +
      `  for (var jj = 0u; jj < ${k}u; jj++) {\n    let j = ${k}u - 1u - jj;\n` +
      `    if (in1[j] == i32(a)) { out[i] = in2[(o * ${k}u + j) * ${s.inner}u + r]; return; }\n  }\n` +
      `  out[i] = in0[i];`;
    return perElementKernel(inputs, output, target, 'scatter.scan', body);
  },
  cost: scatterCost,
  // Assumes distinct indices for `updates`: with duplicates, every copy (not only the winner) gets dy.
  grad(b, { inputs: [, indices, updates], attrs, needs }, dy) {
    if (dy.type.dtype === 'i32') return [null, null, null];
    return [
      needs[0] ? b.scatter(dy, indices, zerosLike(b, updates), attrs.axis) : null,
      null,
      needs[2] ? b.gather(dy, indices, attrs.axis) : null,
    ];
  },
});

/** Adds slice j of `updates` into the slice of `base` at indices[j]; duplicates accumulate in index order. */
export const scatterAdd = defineOp({
  name: 'scatter_add',
  doc: 'base plus updates slice j added at indices[j] along `axis` (duplicates accumulate; out of range ignored)',
  arity: 3,
  attrs: AxisAttrs,
  type: (inputs, a) => scatterType(inputs, a, 'scatter_add'),
  reference([base, indices, updates], a, out) {
    const res = hostZeros(out);
    res.data.set(base.data);
    const s = splitAt(base.shape, normalizeAxis(a.axis, base.shape.length));
    const k = indices.data.length;
    for (let j = 0; j < k; j++) {
      const n = indices.data[j];
      if (n < 0 || n >= s.dim) continue;
      for (let q = 0; q < s.outer; q++) {
        for (let r = 0; r < s.inner; r++) res.data[(q * s.dim + n) * s.inner + r] += updates.data[(q * k + j) * s.inner + r];
      }
    }
    return res;
  },
  kernel({ inputs, output, attrs, target }) {
    const s = splitAt(output.shape, normalizeAxis(attrs.axis, output.shape.length));
    const k = numel(inputs[1].shape);
    const body = `${axisCoords(s)}` +
      `  var acc = in0[i];\n` +
      `  for (var j = 0u; j < ${k}u; j++) {\n` +
      `    if (in1[j] == i32(a)) { acc += in2[(o * ${k}u + j) * ${s.inner}u + r]; }\n  }\n` +
      `  out[i] = acc;`;
    return perElementKernel(inputs, output, target, 'scatter_add.scan', body);
  },
  cost: scatterCost,
  grad(b, { inputs: [, indices], attrs, needs }, dy) {
    if (dy.type.dtype === 'i32') return [null, null, null];
    return [needs[0] ? dy : null, null, needs[2] ? b.gather(dy, indices, attrs.axis) : null];
  },
});
