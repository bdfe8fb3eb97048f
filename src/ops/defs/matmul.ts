// Batched matrix multiply with broadcast batch dims and optional transposes of either operand.
// The WGSL variants live in matmul-kernels.ts; this file holds the op: type rule, reference,
// the choice of variant, cost and gradient.

import * as t from 'io-ts';
import { formatShape, numel, ShapeError, type Shape, type TensorType } from '../../graph/index.js';
import { defineOp, type Kernel, type KernelContext } from '../registry.js';
import { hostZeros } from '../host.js';
import { broadcastIndexer, broadcastShapes, bytesOf } from '../shape.js';
import { broadcastIndex } from '../wgsl.js';
import { unbroadcast } from '../grad-helpers.js';
import type { GraphBuilder, Ref } from '../builder.js';
import { chooseVariant, generateMatmul, MATMUL_VARIANTS, type MatmulEpilogue, type MatmulProblem, type MatmulVariant } from './matmul-kernels.js';

export { MATMUL_VARIANTS, type MatmulEpilogue, type MatmulProblem, type MatmulVariant };

export const MatmulAttrs = t.type({ transA: t.boolean, transB: t.boolean });
export type MatmulAttrs = t.TypeOf<typeof MatmulAttrs>;

/** The shapes of one matmul: batch dims of each operand and of the output, and M, K, N. */
export interface MatmulDims {
  readonly aBatch: Shape;
  readonly bBatch: Shape;
  readonly outBatch: number[];
  readonly M: number;
  readonly K: number;
  readonly N: number;
}

export function matmulDims(a: Shape, b: Shape, attrs: MatmulAttrs): MatmulDims {
  if (a.length < 2 || b.length < 2) throw new ShapeError(`matmul needs rank >= 2 operands, got ${formatShape(a)} and ${formatShape(b)}`);
  const [ar, ac] = a.slice(-2);
  const [br, bc] = b.slice(-2);
  const [M, K] = attrs.transA ? [ac, ar] : [ar, ac];
  const [Kb, N] = attrs.transB ? [bc, br] : [br, bc];
  if (K !== Kb) {
    const ta = attrs.transA ? ' (transposed)' : '', tb = attrs.transB ? ' (transposed)' : '';
    throw new ShapeError(`matmul of ${formatShape(a)}${ta} and ${formatShape(b)}${tb}: inner dimensions differ, K = ${K} vs ${Kb}`);
  }
  const aBatch = a.slice(0, -2), bBatch = b.slice(0, -2);
  let outBatch: number[];
  try {
    outBatch = broadcastShapes(aBatch, bBatch);
  } catch {
    throw new ShapeError(`matmul of ${formatShape(a)} and ${formatShape(b)}: batch dims ${formatShape(aBatch)} and ${formatShape(bBatch)} do not broadcast`);
  }
  return { aBatch, bBatch, outBatch, M, K, N };
}

/**
 * The canonical GEMM for the kernels. When B has no real batch (a linear layer's weight) and A is
 * not transposed, A's batch rows are contiguous, so [B,S,K] x [K,N] is one (B*S) x K x N GEMM.
 */
export function matmulProblem(a: Shape, b: Shape, attrs: MatmulAttrs): MatmulProblem {
  const d = matmulDims(a, b, attrs);
  const batch = numel(d.outBatch);
  const common = { K: d.K, N: d.N, transA: attrs.transA, transB: attrs.transB };
  if (batch === 1 || (numel(d.bBatch) === 1 && !attrs.transA)) {
    return { ...common, batch: 1, M: d.M * batch, aOffset: '0u', bOffset: '0u' };
  }
  const offset = (inBatch: Shape, size: number): string => {
    const idx = broadcastIndex(d.outBatch, inBatch, 'bi');
    return idx === '0u' ? '0u' : `(${idx}) * ${size}u`;
  };
  return { ...common, batch, M: d.M, aOffset: offset(d.aBatch, d.M * d.K), bOffset: offset(d.bBatch, d.K * d.N) };
}

/**
 * Operands are f32 or f16 in any mix; the product is f32. f16 is a storage format only (the
 * `half-storage` pass stores frozen weights so): every variant converts an f16 element to f32
 * as it loads it and accumulates in f32, so f16 and f32 operands holding the same values give
 * the same result.
 */
function checkOperands(a: TensorType, b: TensorType): void {
  if (a.dtype === 'i32' || b.dtype === 'i32') throw new ShapeError(`matmul takes float (f32 or f16) operands, got ${a.dtype}${formatShape(a.shape)} and ${b.dtype}${formatShape(b.shape)}`);
}

/** The problem of two operand types: shapes, transposes, and which operand is stored as f16. */
export function matmulProblemOf(a: TensorType, b: TensorType, attrs: MatmulAttrs): MatmulProblem {
  return { ...matmulProblem(a.shape, b.shape, attrs), aF16: a.dtype === 'f16', bF16: b.dtype === 'f16' };
}

/** The kernel of a given variant (tests and the bench force variants with this). */
export function matmulKernel(ctx: KernelContext<MatmulAttrs>, variant: MatmulVariant | 'auto' = 'auto', epilogue?: MatmulEpilogue): Kernel {
  const [a, b] = ctx.inputs;
  checkOperands(a, b);
  if ((a.dtype === 'f16' || b.dtype === 'f16') && !ctx.target.f16) throw new ShapeError('matmul: an f16 operand needs a target with shader-f16');
  const p = matmulProblemOf(a, b, ctx.attrs);
  return generateMatmul(p, variant === 'auto' ? chooseVariant(p, ctx.target) : variant, ctx.target, epilogue);
}

export const matmul = defineOp<MatmulAttrs>({
  name: 'matmul',
  doc: 'batched A·B over the last two axes (either read transposed), batch dims broadcast',
  arity: 2,
  attrs: MatmulAttrs,
  type([a, b], attrs): TensorType {
    const d = matmulDims(a.shape, b.shape, attrs);
    checkOperands(a, b);
    return { shape: [...d.outBatch, d.M, d.N], dtype: 'f32' };
  },
  reference([a, b], attrs, out) {
    const { aBatch, bBatch, outBatch, M, K, N } = matmulDims(a.shape, b.shape, attrs);
    const res = hostZeros(out);
    const ai = broadcastIndexer(outBatch, aBatch), bi = broadcastIndexer(outBatch, bBatch);
    // Strides of op(A)[m, k] and op(B)[k, n] in the stored layouts.
    const [sam, sak] = attrs.transA ? [1, M] : [K, 1];
    const [sbk, sbn] = attrs.transB ? [1, K] : [N, 1];
    for (let q = 0; q < numel(outBatch); q++) {
      const ao = ai(q) * M * K, bo = bi(q) * K * N, oo = q * M * N;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += a.data[ao + m * sam + k * sak] * b.data[bo + k * sbk + n * sbn];
          res.data[oo + m * N + n] = s;
        }
      }
    }
    return res;
  },
  kernel: (ctx) => matmulKernel(ctx),
  cost([a, b], out, attrs) {
    const { M, K, N } = matmulDims(a.shape, b.shape, attrs);
    return { flops: 2 * numel(out.shape.slice(0, -2)) * M * N * K, bytes: bytesOf(a) + bytesOf(b) + bytesOf(out) };
  },
  grad: (b, { inputs: [x, w], attrs, needs }, dy) => [
    needs[0] ? unbroadcast(b, gradA(b, x, w, dy, attrs), x.type.shape) : null,
    needs[1] ? gradB(b, x, w, dy, attrs) : null,
  ],
});

/** dÂ = dy·B̂ᵀ where Â = op(A), B̂ = op(B); dA is dÂ, or its transpose when transA. */
function gradA(b: GraphBuilder, _a: Ref, w: Ref, dy: Ref, { transA, transB }: MatmulAttrs): Ref {
  if (!transA) return b.matmul(dy, w, { transB: !transB });
  return b.matmul(w, dy, { transA: transB, transB: true });
}

/** dB̂ = Âᵀ·dy; dB is dB̂, or its transpose when transB. Summed over broadcast batch dims. */
function gradB(b: GraphBuilder, a: Ref, w: Ref, dy: Ref, { transA, transB }: MatmulAttrs): Ref {
  const wShape = w.type.shape;
  if (!transA && numel(wShape.slice(0, -2)) === 1 && a.type.shape.length > 2) {
    // Shared weight: fold the batch into the GEMM's inner dim instead of a per-batch product + sum.
    const K = a.type.shape[a.type.shape.length - 1], N = dy.type.shape[dy.type.shape.length - 1];
    const a2 = b.reshape(a, [-1, K]), dy2 = b.reshape(dy, [-1, N]);
    return b.reshape(transB ? b.matmul(dy2, a2, { transA: true }) : b.matmul(a2, dy2, { transA: true }), wShape);
  }
  const g = transB ? b.matmul(dy, a, { transA: true, transB: transA }) : b.matmul(a, dy, { transA: !transA });
  return unbroadcast(b, g, wShape);
}
