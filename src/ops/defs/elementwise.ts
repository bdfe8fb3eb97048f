// Element-wise ops. Each is defined once by a scalar reference and a scalar WGSL expression;
// the kernel, broadcasting and (later) fusion are derived from those two.

import * as t from 'io-ts';
import { numel, ShapeError, type DType, type TensorType } from '../../graph/index.js';
import { defineOp, type Cost, type GradRule, type Kernel, type KernelContext, type OpDef } from '../registry.js';
import { hostZeros, type HostTensor } from '../host.js';
import { broadcastIndexer, broadcastShapes, streamingCost } from '../shape.js';
import { bindings, broadcastIndex, entry, f32, linearGrid, load, store } from '../wgsl.js';
import { unbroadcast, zerosLike } from '../grad-helpers.js';
import type { GraphBuilder, Ref } from '../builder.js';

/** WGSL helpers available to every element-wise expression (and so to fused kernels). */
export const ELEMENTWISE_PRELUDE = `
fn pg_tanh(x: f32) -> f32 {
  // Some drivers compute tanh as a ratio of exponentials that overflows to NaN for |x| > ~44.
  return select(tanh(x), sign(x), abs(x) > 15.0);
}
fn pg_gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + pg_tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
fn pg_gelu_deriv(x: f32) -> f32 {
  let t = pg_tanh(0.7978845608028654 * (x + 0.044715 * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * x * x);
}
fn pg_erf(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}
fn pg_gelu_erf(x: f32) -> f32 {
  return 0.5 * x * (1.0 + pg_erf(x * 0.7071067811865476));
}
fn pg_gelu_erf_deriv(x: f32) -> f32 {
  return 0.5 * (1.0 + pg_erf(x * 0.7071067811865476)) + x * exp(-0.5 * x * x) * 0.3989422804014327;
}
fn pg_sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}
fn pg_hash(x: u32) -> u32 {
  var v = x;
  v = v ^ (v >> 16u); v = v * 0x7feb352du;
  v = v ^ (v >> 15u); v = v * 0x846ca68bu;
  v = v ^ (v >> 16u);
  return v;
}
`;

/** The same hash on the host (lowbias32), so dropout masks match the WGSL bit for bit. */
export function hash32(x: number): number {
  let v = x >>> 0;
  v = Math.imul(v ^ (v >>> 16), 0x7feb352d) >>> 0;
  v = Math.imul(v ^ (v >>> 15), 0x846ca68b) >>> 0;
  return (v ^ (v >>> 16)) >>> 0;
}

const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * erf to ~1e-7 absolute (Numerical Recipes erfc, Chebyshev fit). The WGSL uses the same formula,
 * since WGSL has no erf builtin; in f32 both agree with the true erf to f32 precision.
 */
export function erfRef(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}
export function geluRef(x: number): number {
  return 0.5 * x * (1 + tanhRef(GELU_C * (x + 0.044715 * x * x * x)));
}
function tanhRef(x: number): number {
  return Math.abs(x) > 15 ? Math.sign(x) : Math.tanh(x);
}

interface ElementwiseSpec<A> {
  name: string;
  doc: string;
  arity: number;
  attrs: t.Type<A, unknown, unknown>;
  /** Scalar reference, in float64. */
  compute: (xs: readonly number[], attrs: A, index: number) => number;
  /** Scalar WGSL f32 expression of the (f32) input elements `args`; `i` is the flat output index. */
  wgsl: (args: readonly string[], attrs: A) => string;
  flops: number;
  /** Output dtype; by default the first input's. */
  outDType?: (inputs: readonly TensorType[], attrs: A) => DType;
  /** Inputs whose dtype must equal the first input's (default: all). */
  sameDTypeInputs?: readonly number[];
  grad?: GradRule<A>;
}

const NoAttrs = t.type({});

/**
 * The common dtype of inputs that must agree: equal dtypes, or f16 mixed with f32, which gives
 * f32. Mixing is sound because every element-wise kernel reads each input through `load` (f16
 * converted to f32 as it is loaded) and computes in f32; the `half-storage` pass relies on it
 * to read f16-stored weights (biases) in f32 arithmetic. `ks` names the inputs for the error.
 */
export function promotedDType(dtypes: readonly DType[], ks: readonly number[] = [...dtypes.keys()]): DType {
  const d0 = dtypes[0] ?? 'f32';
  dtypes.forEach((d, j) => {
    if (d !== d0 && (d === 'i32' || d0 === 'i32')) throw new ShapeError(`input ${ks[j]} is ${d}, expected ${d0} like the others`);
  });
  return dtypes.some((d) => d !== d0) ? 'f32' : d0;
}

export function defineElementwise<A>(spec: ElementwiseSpec<A>): OpDef<A> {
  const sameDType = spec.sameDTypeInputs ?? [...Array(spec.arity).keys()];
  return defineOp<A>({
    name: spec.name,
    doc: spec.doc,
    arity: spec.arity,
    attrs: spec.attrs,
    type(inputs, attrs) {
      const d0 = promotedDType(sameDType.map((k) => inputs[k].dtype), sameDType);
      return { shape: broadcastShapes(...inputs.map((x) => x.shape)), dtype: spec.outDType?.(inputs, attrs) ?? (sameDType.includes(0) ? d0 : inputs[0].dtype) };
    },
    reference(inputs, attrs, out) {
      const res = hostZeros(out);
      const idx = inputs.map((x) => broadcastIndexer(out.shape, x.shape));
      const xs = new Array<number>(inputs.length);
      for (let i = 0; i < res.data.length; i++) {
        for (let k = 0; k < inputs.length; k++) xs[k] = inputs[k].data[idx[k](i)];
        const v = spec.compute(xs, attrs, i);
        res.data[i] = out.dtype === 'i32' ? Math.trunc(v) : v;
      }
      return res;
    },
    elementwise: spec.wgsl,
    kernel: (ctx: KernelContext<A>): Kernel => elementwiseKernel(ctx, spec.wgsl, spec.name),
    cost: (inputs, out): Cost => streamingCost(inputs, out, spec.flops),
    grad: spec.grad,
  });
}

function elementwiseKernel<A>(ctx: KernelContext<A>, wgsl: ElementwiseSpec<A>['wgsl'], name: string): Kernel {
  const { inputs, output, target } = ctx;
  const grid = linearGrid(numel(output.shape), target);
  const args = inputs.map((x, k) => load(k, x, broadcastIndex(output.shape, x.shape, 'i')));
  return {
    variant: `${name}.elementwise`,
    workgroups: grid.workgroups,
    code: `${bindings(inputs, output)}\n${ELEMENTWISE_PRELUDE}\n${entry(grid.workgroupSize)} {\n  ${grid.prologue}\n  out[i] = ${store(output, wgsl(args, ctx.attrs))};\n}\n`,
  };
}

// ---- unary ----------------------------------------------------------------------------------

/** d(input) from the input x, the output y and the cotangent dy. */
type UnaryGrad = (b: GraphBuilder, x: Ref, y: Ref, dy: Ref) => Ref;

function unary(name: string, doc: string, compute: (x: number) => number, wgsl: (x: string) => string, grad: UnaryGrad, flops = 1): OpDef<{}> {
  return defineElementwise({
    name, doc, arity: 1, attrs: NoAttrs, compute: ([x]) => compute(x), wgsl: ([x]) => wgsl(x), flops,
    grad: (b, { inputs: [x], output: y }, dy) => [grad(b, x, y, dy)],
  });
}

export const neg = unary('neg', '-x', (x) => -x, (x) => `(-${x})`, (b, _x, _y, dy) => b.neg(dy));
export const exp = unary('exp', 'e^x', Math.exp, (x) => `exp(${x})`, (b, _x, y, dy) => b.mul(dy, y));
export const log = unary('log', 'natural logarithm', Math.log, (x) => `log(${x})`, (b, x, _y, dy) => b.div(dy, x));
export const sqrt = unary('sqrt', 'square root', Math.sqrt, (x) => `sqrt(${x})`, (b, _x, y, dy) => b.div(b.scale(dy, 0.5), y));
export const tanhOp = unary('tanh', 'hyperbolic tangent', tanhRef, (x) => `pg_tanh(${x})`,
  (b, _x, y, dy) => b.mul(dy, b.sub(b.constant(1), b.mul(y, y))), 4);
// NaN passes through relu (as in PyTorch): only values known to be <= 0 become 0.
export const relu = unary('relu', 'max(x, 0), NaN kept', (x) => (x <= 0 ? 0 : x), (x) => `select(${x}, 0.0, ${x} <= 0.0)`,
  (b, x, _y, dy) => b.op('relu_grad', [x, dy]));
export const sigmoid = unary('sigmoid', '1 / (1 + e^-x)', (x) => 1 / (1 + Math.exp(-x)), (x) => `pg_sigmoid(${x})`,
  (b, _x, y, dy) => b.mul(dy, b.mul(y, b.sub(b.constant(1), y))), 4);
export const gelu = unary('gelu', 'GELU, tanh approximation (GPT-2)', geluRef, (x) => `pg_gelu(${x})`,
  (b, x, _y, dy) => b.op('gelu_grad', [x, dy]), 8);
export const geluErf = unary('gelu_erf', 'GELU, exact erf form (BERT)', (x) => 0.5 * x * (1 + erfRef(x / Math.SQRT2)), (x) => `pg_gelu_erf(${x})`,
  (b, x, _y, dy) => b.op('gelu_erf_grad', [x, dy]), 10);

export const geluErfGrad = defineElementwise({
  name: 'gelu_erf_grad',
  doc: "dy * gelu_erf'(x) (backward of gelu_erf)",
  arity: 2,
  attrs: NoAttrs,
  compute: ([x, dy]) => dy * (0.5 * (1 + erfRef(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI)),
  wgsl: ([x, dy]) => `(${dy} * pg_gelu_erf_deriv(${x}))`,
  flops: 16,
});

export const stopGradient = defineElementwise({
  name: 'stop_gradient',
  doc: 'identity whose gradient is zero (autodiff does not look through it)',
  arity: 1, attrs: NoAttrs, compute: ([x]) => x, wgsl: ([x]) => x, flops: 0,
  grad: () => [null],
});

/** Derivative of the tanh-form GELU. */
export function geluDerivRef(x: number): number {
  const u = GELU_C * (x + 0.044715 * x * x * x);
  const t = tanhRef(u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
}

export const geluGrad = defineElementwise({
  name: 'gelu_grad',
  doc: "dy * gelu'(x) (backward of gelu)",
  arity: 2,
  attrs: NoAttrs,
  compute: ([x, dy]) => dy * geluDerivRef(x),
  wgsl: ([x, dy]) => `(${dy} * pg_gelu_deriv(${x}))`,
  flops: 14,
});

export const reluGrad = defineElementwise({
  name: 'relu_grad',
  doc: 'dy where x > 0, else 0 (backward of relu)',
  arity: 2,
  attrs: NoAttrs,
  compute: ([x, dy]) => (x > 0 ? dy : 0),
  wgsl: ([x, dy]) => `select(0.0, ${dy}, ${x} > 0.0)`,
  flops: 1,
});

export const scale = defineElementwise({
  name: 'scale',
  doc: 'x * factor',
  arity: 1,
  attrs: t.type({ factor: t.number }),
  compute: ([x], a) => x * Math.fround(a.factor),
  wgsl: ([x], a) => `(${x} * ${f32(a.factor)})`,
  flops: 1,
  grad: (b, { attrs }, dy) => [b.scale(dy, attrs.factor)],
});

export const cast = defineElementwise({
  name: 'cast',
  doc: 'converts to dtype `to` (float to int truncates toward zero)',
  arity: 1,
  attrs: t.type({ to: t.keyof({ f32: null, i32: null, f16: null }) }),
  compute: ([x]) => x,
  wgsl: ([x]) => x,
  flops: 0,
  outDType: (_in, a) => a.to,
  grad: (b, { inputs: [x] }, dy) => [x.type.dtype === 'i32' || dy.type.dtype === 'i32' ? null : b.cast(dy, x.type.dtype)],
});

// ---- binary (broadcasting) ------------------------------------------------------------------

/** Cotangents of both operands before unbroadcasting. */
type BinaryGrad = (b: GraphBuilder, x: Ref, y: Ref, out: Ref, dy: Ref, needs: readonly boolean[]) => [Ref | null, Ref | null];

function binary(name: string, doc: string, compute: (a: number, b: number) => number, op: string, grad: BinaryGrad): OpDef<{}> {
  return defineElementwise({
    name, doc, arity: 2, attrs: NoAttrs, compute: ([a, b]) => compute(a, b), wgsl: ([a, b]) => `(${a} ${op} ${b})`, flops: 1,
    grad: (b, { inputs: [x, y], output, needs }, dy) => {
      const [gx, gy] = grad(b, x, y, output, dy, needs);
      return [gx && needs[0] ? unbroadcast(b, gx, x.type.shape) : null, gy && needs[1] ? unbroadcast(b, gy, y.type.shape) : null];
    },
  });
}

export const add = binary('add', 'a + b (broadcasting)', (a, b) => a + b, '+', (_b, _x, _y, _o, dy) => [dy, dy]);
export const mul = binary('mul', 'a * b (broadcasting)', (a, b) => a * b, '*',
  (b, x, y, _o, dy, needs) => [needs[0] ? b.mul(dy, y) : null, needs[1] ? b.mul(dy, x) : null]);
export const div = binary('div', 'a / b (broadcasting)', (a, b) => a / b, '/',
  (b, _x, y, out, dy, needs) => { const gx = b.div(dy, y); return [gx, needs[1] ? b.neg(b.mul(gx, out)) : null]; });
export const sub = binary('sub', 'a - b (broadcasting)', (a, b) => a - b, '-', (b, _x, _y, _o, dy, needs) => [dy, needs[1] ? b.neg(dy) : null]);

function comparison(name: string, doc: string, compute: (a: number, b: number) => boolean, op: string): OpDef<{}> {
  return defineElementwise({
    name, doc, arity: 2, attrs: NoAttrs, flops: 1,
    compute: ([a, b]) => (compute(a, b) ? 1 : 0),
    wgsl: ([a, b]) => `select(0.0, 1.0, ${a} ${op} ${b})`,
    grad: () => [null, null],
  });
}

export const equal = comparison('equal', '1 where a == b, else 0 (broadcasting)', (a, b) => a === b, '==');
export const greater = comparison('greater', '1 where a > b, else 0 (broadcasting)', (a, b) => a > b, '>');

export const where = defineElementwise({
  name: 'where',
  doc: 'cond != 0 ? a : b (broadcasting)',
  arity: 3,
  attrs: NoAttrs,
  compute: ([c, a, b]) => (c !== 0 ? a : b),
  wgsl: ([c, a, b]) => `select(${b}, ${a}, ${c} != 0.0)`,
  flops: 1,
  outDType: (inputs) => promotedDType([inputs[1].dtype, inputs[2].dtype], [1, 2]),
  sameDTypeInputs: [1, 2],
  grad: (b, { inputs: [c, x, y], needs }, dy) => {
    const zero = zerosLike(b, dy);
    return [
      null,
      needs[1] ? unbroadcast(b, b.where(c, dy, zero), x.type.shape) : null,
      needs[2] ? unbroadcast(b, b.where(c, zero, dy), y.type.shape) : null,
    ];
  },
});

export const dropout = defineElementwise({
  name: 'dropout',
  doc: 'inverted dropout: keeps x / (1 - p) where hash(seed, index) >= p * 2^32, else 0',
  arity: 2,
  attrs: t.type({ p: t.number }),
  compute: ([x, seed], a, i) => {
    const keep = hash32((i ^ hash32(seed)) >>> 0) >= dropThreshold(a.p);
    return keep ? x * Math.fround(1 / (1 - a.p)) : 0;
  },
  // `i` is the flat output index; args[1] is the seed (loaded as f32, exact for |seed| < 2^24).
  wgsl: ([x, seed], a) => `select(0.0, ${x} * ${f32(1 / (1 - a.p))}, pg_hash(i ^ pg_hash(bitcast<u32>(i32(${seed})))) >= ${dropThreshold(a.p)}u)`,
  flops: 4,
  sameDTypeInputs: [0],
  // The same seed regenerates the same mask, so the backward is dropout of dy.
  grad: (b, { inputs: [, seed], attrs }, dy) => [b.dropout(dy, seed, attrs.p), null],
});

/**
 * The i32 scalar input dropout masks are seeded from in a training graph: the training loop feeds
 * a fresh value every step (`stepSeed`), and compile drops dropout (and the input) at inference.
 */
export const DROPOUT_SEED_INPUT = 'dropout_seed';

/** Step `step`'s dropout seed for a run seeded `runSeed`: below 2^24, so exact as an f32 too. */
export function stepSeed(runSeed: number, step: number): number {
  return hash32((hash32(runSeed >>> 0) ^ step) >>> 0) & 0xffffff;
}

function dropThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new ShapeError(`dropout p must be in [0, 1), got ${p}`);
  return Math.min(0xffffffff, Math.floor(p * 4294967296));
}

export type { HostTensor };
