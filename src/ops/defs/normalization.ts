// Row-wise normalizations over the last axis: softmax (with an optional additive mask) and
// layernorm, with dedicated backward ops so each backward is one kernel.

import * as t from 'io-ts';
import { formatShape, isFloat, numel, sameShape, ShapeError, type TensorType } from '../../graph/index.js';
import { defineOp, type Kernel, type KernelContext } from '../registry.js';
import { hostZeros, type HostTensor } from '../host.js';
import { broadcastIndexer, broadcastShapes, streamingCost } from '../shape.js';
import { broadcastIndex, f32, load, store } from '../wgsl.js';
import { unbroadcast } from '../grad-helpers.js';
import { RowKernel, rowModeFor } from './reduce.js';
import type { Ref } from '../builder.js';

/** Rows and row length of a tensor normalized over its last axis. */
function rowsOf(x: TensorType): { rows: number; cols: number } {
  const cols = x.shape[x.shape.length - 1];
  return { rows: cols === 0 ? 0 : numel(x.shape) / cols, cols };
}

function checkFloat(op: string, what: string, x: TensorType): void {
  if (!isFloat(x.dtype)) throw new ShapeError(`${op} ${what} must be a float tensor, got ${x.dtype}${formatShape(x.shape)}`);
  if (x.shape.length === 0) throw new ShapeError(`${op} ${what} needs rank >= 1 (it normalizes the last axis), got a scalar`);
}

function sameDType(op: string, x: TensorType, what: string, y: TensorType): void {
  if (y.dtype !== x.dtype) throw new ShapeError(`${op} ${what} is ${y.dtype}${formatShape(y.shape)} but x is ${x.dtype}${formatShape(x.shape)}`);
}

/** In a row kernel: the row's first flat index. */
const rowBase = (cols: number): string => `let base = row * ${cols}u;`;

// ---- softmax ----------------------------------------------------------------------------------

/** Softmax of one row of z (already masked): max-subtracted; NaN if the row holds NaN or +inf, or is all -inf. */
function softmaxRow(z: Float64Array): void {
  let m = -Infinity;
  for (const v of z) m = Math.max(m, v); // NaN if any is NaN
  let s = 0;
  for (let j = 0; j < z.length; j++) s += (z[j] = Math.exp(z[j] - m));
  for (let j = 0; j < z.length; j++) z[j] /= s;
}

/**
 * Rows that are entirely -inf (or hold +inf or NaN) come out NaN, as in PyTorch: there is no
 * distribution to return. Masks in this project add -1e9, so a fully masked row stays finite
 * (uniform over its entries) instead.
 */
export const softmax = defineOp({
  name: 'softmax',
  doc: 'softmax over the last axis of x (+ mask broadcast to x, when given), max-subtracted',
  arity: 'variadic',
  attrs: t.type({}),
  type(inputs) {
    if (inputs.length > 2) throw new ShapeError(`softmax takes x and an optional mask, got ${inputs.length} inputs`);
    const [x, mask] = inputs;
    checkFloat('softmax', 'x', x);
    if (mask) {
      sameDType('softmax', x, 'mask', mask);
      const fits = (() => { try { return sameShape(broadcastShapes(x.shape, mask.shape), x.shape); } catch { return false; } })();
      if (!fits) throw new ShapeError(`softmax mask ${formatShape(mask.shape)} does not broadcast to x ${formatShape(x.shape)}`);
    }
    return x;
  },
  reference([x, mask], _a, out) {
    const { rows, cols } = rowsOf(x);
    const res = hostZeros(out);
    const mi = mask && broadcastIndexer(x.shape, mask.shape);
    const z = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) z[j] = x.data[r * cols + j] + (mask && mi ? mask.data[mi(r * cols + j)] : 0);
      softmaxRow(z);
      res.data.set(z, r * cols);
    }
    return res;
  },
  kernel({ inputs: [x, mask], output, target }): Kernel {
    const { rows, cols } = rowsOf(x);
    const k = new RowKernel(rowModeFor(target), rows, cols, target).line(rowBase(cols));
    const z = mask ? `${load(0, x, 'base + j')} + ${load(1, mask, broadcastIndex(x.shape, mask.shape, '(base + j)'))}` : load(0, x, 'base + j');
    k.max('m', z).sum('s', `exp(${z} - m)`).line('let inv = 1.0 / s;');
    k.each(`out[base + j] = ${store(output, `exp(${z} - m) * inv`)};`);
    return k.build(mask ? [x, mask] : [x], output, 'softmax');
  },
  cost: (inputs, out) => streamingCost(inputs, out, 8),
  grad(b, { inputs: [, mask], output, needs }, dy) {
    const g = b.op('softmax_grad', [output, dy]);
    return [needs[0] ? g : null, mask && needs[1] ? unbroadcast(b, g, mask.type.shape) : null];
  },
});

export const softmaxGrad = defineOp({
  name: 'softmax_grad',
  doc: 'y * (dy - sum(dy * y)) over the last axis (backward of softmax from its output y)',
  arity: 2,
  attrs: t.type({}),
  type([y, dy]) {
    checkFloat('softmax_grad', 'y', y);
    if (!sameShape(y.shape, dy.shape) || y.dtype !== dy.dtype) throw new ShapeError(`softmax_grad dy ${dy.dtype}${formatShape(dy.shape)} must match y ${y.dtype}${formatShape(y.shape)}`);
    return y;
  },
  reference([y, dy], _a, out) {
    const { rows, cols } = rowsOf(y);
    const res = hostZeros(out);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = r * cols; j < (r + 1) * cols; j++) s += y.data[j] * dy.data[j];
      for (let j = r * cols; j < (r + 1) * cols; j++) res.data[j] = y.data[j] * (dy.data[j] - s);
    }
    return res;
  },
  kernel({ inputs: [y, dy], output, target }): Kernel {
    const { rows, cols } = rowsOf(y);
    const k = new RowKernel(rowModeFor(target), rows, cols, target).line(rowBase(cols));
    const [yj, dj] = [load(0, y, 'base + j'), load(1, dy, 'base + j')];
    k.sum('s', `${yj} * ${dj}`).each(`out[base + j] = ${store(output, `${yj} * (${dj} - s)`)};`);
    return k.build([y, dy], output, 'softmax_grad');
  },
  cost: (inputs, out) => streamingCost(inputs, out, 4),
});

// ---- layernorm --------------------------------------------------------------------------------

const LayerNormAttrs = t.type({ eps: t.number });
type LayerNormAttrs = t.TypeOf<typeof LayerNormAttrs>;

function checkAffine(op: string, x: TensorType, what: string, v: TensorType): void {
  const n = x.shape[x.shape.length - 1];
  if (!sameShape(v.shape, [n])) throw new ShapeError(`${op} ${what} has shape ${formatShape(v.shape)}, expected [${n}] (the last axis of x ${formatShape(x.shape)})`);
  // gamma / beta may be stored as f16 with an f32 x (the half-storage pass does so for frozen
  // ones): the kernels read them through `load`, which converts to f32.
  if (!isFloat(v.dtype) || !isFloat(x.dtype)) sameDType(op, x, what, v);
}

/** Mean and 1/sqrt(biased variance + eps) of row r, two-pass for accuracy. */
function rowStats(x: HostTensor, r: number, cols: number, eps: number): { mean: number; rstd: number } {
  let s = 0;
  for (let j = r * cols; j < (r + 1) * cols; j++) s += x.data[j];
  const mean = s / cols;
  let v = 0;
  for (let j = r * cols; j < (r + 1) * cols; j++) v += (x.data[j] - mean) ** 2;
  return { mean, rstd: 1 / Math.sqrt(v / cols + eps) };
}

/** WGSL for the same: defines `mean` and `rstd` from `xj` (the element at `base + j`). */
function statsKernel(k: RowKernel, xj: string, cols: number, eps: number): RowKernel {
  return k.sum('s1', xj).line(`let mean = s1 * ${f32(1 / cols)};`)
    .sum('s2', 'd * d', { pre: `let d = ${xj} - mean;` })
    .line(`let rstd = 1.0 / sqrt(s2 * ${f32(1 / cols)} + ${f32(eps)});`);
}

export const layernorm = defineOp<LayerNormAttrs>({
  name: 'layernorm',
  doc: '(x - mean) / sqrt(var + eps) * gamma + beta over the last axis (biased variance, as PyTorch)',
  arity: 3,
  attrs: LayerNormAttrs,
  type([x, gamma, beta]) {
    checkFloat('layernorm', 'x', x);
    checkAffine('layernorm', x, 'gamma', gamma);
    checkAffine('layernorm', x, 'beta', beta);
    return x;
  },
  reference([x, gamma, beta], a, out) {
    const { rows, cols } = rowsOf(x);
    const res = hostZeros(out);
    for (let r = 0; r < rows; r++) {
      const { mean, rstd } = rowStats(x, r, cols, a.eps);
      for (let j = 0; j < cols; j++) res.data[r * cols + j] = (x.data[r * cols + j] - mean) * rstd * gamma.data[j] + beta.data[j];
    }
    return res;
  },
  kernel({ inputs: [x, gamma, beta], output, attrs, target }: KernelContext<LayerNormAttrs>): Kernel {
    const { rows, cols } = rowsOf(x);
    const xj = load(0, x, 'base + j');
    const k = statsKernel(new RowKernel(rowModeFor(target), rows, cols, target).line(rowBase(cols)), xj, cols, attrs.eps);
    k.each(`out[base + j] = ${store(output, `(${xj} - mean) * rstd * ${load(1, gamma, 'j')} + ${load(2, beta, 'j')}`)};`);
    return k.build([x, gamma, beta], output, 'layernorm');
  },
  cost: (inputs, out) => streamingCost(inputs, out, 8),
  grad(b, { inputs: [x, gamma], attrs, needs }, dy) {
    const n = x.type.shape[x.type.shape.length - 1];
    const lead = [...Array(x.type.shape.length - 1).keys()];
    const overRows = (v: Ref): Ref => (lead.length ? b.sum(v, lead) : v);
    // gamma's cotangent needs x-hat: the forward itself with unit scale and no shift.
    const xhat = () => b.layernorm(x, b.constant(1, [n], x.type.dtype), b.constant(0, [n], x.type.dtype), attrs.eps);
    return [
      needs[0] ? b.op('layernorm_grad', [x, gamma, dy], { eps: attrs.eps }) : null,
      needs[1] ? overRows(b.mul(dy, xhat())) : null,
      needs[2] ? overRows(dy) : null,
    ];
  },
});

/**
 * dx of layernorm: with g = dy * gamma and x-hat = (x - mean) * rstd,
 * dx = rstd * (g - mean(g) - x-hat * mean(g * x-hat)), means over the row.
 */
export const layernormGrad = defineOp<LayerNormAttrs>({
  name: 'layernorm_grad',
  doc: 'd(layernorm)/dx applied to dy: inputs x, gamma, dy (backward of layernorm)',
  arity: 3,
  attrs: LayerNormAttrs,
  type([x, gamma, dy]) {
    checkFloat('layernorm_grad', 'x', x);
    checkAffine('layernorm_grad', x, 'gamma', gamma);
    if (!sameShape(x.shape, dy.shape) || x.dtype !== dy.dtype) throw new ShapeError(`layernorm_grad dy ${dy.dtype}${formatShape(dy.shape)} must match x ${x.dtype}${formatShape(x.shape)}`);
    return x;
  },
  reference([x, gamma, dy], a, out) {
    const { rows, cols } = rowsOf(x);
    const res = hostZeros(out);
    for (let r = 0; r < rows; r++) {
      const { mean, rstd } = rowStats(x, r, cols, a.eps);
      let sg = 0, sgx = 0;
      for (let j = 0; j < cols; j++) {
        const g = dy.data[r * cols + j] * gamma.data[j];
        sg += g;
        sgx += g * (x.data[r * cols + j] - mean) * rstd;
      }
      for (let j = 0; j < cols; j++) {
        const g = dy.data[r * cols + j] * gamma.data[j];
        const xh = (x.data[r * cols + j] - mean) * rstd;
        res.data[r * cols + j] = rstd * (g - sg / cols - xh * (sgx / cols));
      }
    }
    return res;
  },
  kernel({ inputs: [x, gamma, dy], output, attrs, target }: KernelContext<LayerNormAttrs>): Kernel {
    const { rows, cols } = rowsOf(x);
    const xj = load(0, x, 'base + j');
    const k = statsKernel(new RowKernel(rowModeFor(target), rows, cols, target).line(rowBase(cols)), xj, cols, attrs.eps);
    const pre = `let g = ${load(2, dy, 'base + j')} * ${load(1, gamma, 'j')}; let xh = (${xj} - mean) * rstd;`;
    k.sum('sums', 'vec2<f32>(g, g * xh)', { type: 'vec2<f32>', pre });
    k.line(`let mg = sums.x * ${f32(1 / cols)};\n  let mgx = sums.y * ${f32(1 / cols)};`);
    k.each(`${pre} out[base + j] = ${store(output, 'rstd * (g - mg - xh * mgx)')};`);
    return k.build([x, gamma, dy], output, 'layernorm_grad');
  },
  cost: (inputs, out) => streamingCost(inputs, out, 16),
});
