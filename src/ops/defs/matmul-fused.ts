// `matmul_fused`: a matmul whose kernel applies an element-wise epilogue (bias, activation,
// residual add, ...) to each output as it stores it. The fusion pass creates it. Inputs are
// [A, B, ...extras]; attrs.program is a `fused` program in which external 0 is the matmul's
// value and external k >= 1 is extras[k - 1] (node input k + 1), broadcast to the output shape.

import * as t from 'io-ts';
import { formatType, sameShape, ShapeError, type TensorType } from '../../graph/index.js';
import { defineOp, getOp, type Kernel, type KernelContext } from '../registry.js';
import { bytesOf } from '../shape.js';
import { broadcastIndex, load, wgslType } from '../wgsl.js';
import { ELEMENTWISE_PRELUDE } from './elementwise.js';
import { decodeProgram, fusedBody, programFlops, programReference, programType } from './fused.js';
import { matmulKernel, MatmulAttrs, type MatmulEpilogue, type MatmulVariant } from './matmul.js';

export const MatmulFusedAttrs = t.intersection([MatmulAttrs, t.type({ program: t.string })]);
export type MatmulFusedAttrs = t.TypeOf<typeof MatmulFusedAttrs>;

const matmulOp = () => getOp('matmul');
const mmAttrs = (a: MatmulFusedAttrs): MatmulAttrs => ({ transA: a.transA, transB: a.transB });

/** The epilogue's WGSL: extras bound from binding 2 on, read inside `pg_epilogue(v, i, gid)`. */
export function matmulEpilogue(extras: readonly TensorType[], output: TensorType, program: string): MatmulEpilogue {
  const steps = decodeProgram(program);
  // f16 extras (e.g. a bias stored as f16 by the half-storage pass) are read through `load`,
  // which converts to f32: the epilogue computes in f32 whatever the storage.
  const decls = extras.map((x, e) => `@group(0) @binding(${e + 2}) var<storage, read> in${e + 2}: array<${wgslType(x.dtype)}>;`);
  const loads = extras.map((x, e) => `let x${e + 1}: f32 = ${load(e + 2, x, broadcastIndex(output.shape, x.shape, 'i'))};`);
  const body = fusedBody(steps, (k) => (k === 0 ? 'v' : `x${k}`));
  // `i` (the flat output index) and `gid` are what element-wise expressions may read.
  const fn = `fn pg_epilogue(v: f32, i: u32, gid: vec3<u32>) -> f32 {\n  ${[...loads, ...body.lines].join('\n  ')}\n  return ${body.result};\n}`;
  return {
    prelude: [...decls, ELEMENTWISE_PRELUDE, fn].join('\n'),
    extras: extras.length,
    apply: (value, index) => `pg_epilogue(${value}, ${index}, gid)`,
    name: steps.map((s) => s.op).join('+'),
    f16: extras.some((x) => x.dtype === 'f16'),
  };
}

/** The kernel of a given matmul variant with the epilogue (tests force variants with this). */
export function matmulFusedKernel(ctx: KernelContext<MatmulFusedAttrs>, variant: MatmulVariant | 'auto' = 'auto'): Kernel {
  if (ctx.inputs.slice(2).some((x) => x.dtype === 'f16') && !ctx.target.f16) throw new ShapeError('matmul_fused: an f16 extra needs a target with shader-f16');
  const epi = matmulEpilogue(ctx.inputs.slice(2), ctx.output, ctx.attrs.program);
  return matmulKernel({ ...ctx, inputs: ctx.inputs.slice(0, 2), attrs: mmAttrs(ctx.attrs) }, variant, epi);
}

export const matmulFused = defineOp<MatmulFusedAttrs>({
  name: 'matmul_fused',
  doc: 'matmul with an element-wise epilogue applied as each output is stored (made by the fusion pass)',
  arity: 'variadic',
  attrs: MatmulFusedAttrs,
  type(inputs, a) {
    if (inputs.length < 2) throw new ShapeError(`matmul_fused takes A, B and extras, got ${inputs.length} input(s)`);
    const mm = matmulOp().type(inputs.slice(0, 2), mmAttrs(a), inputs[0]);
    const last = programType(decodeProgram(a.program), (k) => (k === 0 ? mm : inputs[k + 1]));
    if (last.dtype !== 'f32' || !sameShape(last.shape, mm.shape)) throw new ShapeError(`matmul_fused epilogue gives ${formatType(last)}, the matmul ${formatType(mm)}`);
    return last;
  },
  reference(inputs, a) {
    const ab = inputs.slice(0, 2);
    const mm = matmulOp().reference!(ab, mmAttrs(a), matmulOp().type(ab, mmAttrs(a), ab[0]));
    // The unfused matmul stores its result in f32.
    return programReference(decodeProgram(a.program), [{ ...mm, data: mm.data.map(Math.fround) }, ...inputs.slice(2)]);
  },
  kernel: (ctx) => matmulFusedKernel(ctx),
  cost(inputs, out, a) {
    const mmType = matmulOp().type(inputs.slice(0, 2), mmAttrs(a), out);
    const mm = matmulOp().cost(inputs.slice(0, 2), mmType, mmAttrs(a));
    const flops = programFlops(decodeProgram(a.program), (k) => (k === 0 ? mmType : inputs[k + 1]));
    return { flops: mm.flops + flops, bytes: inputs.reduce((s, x) => s + bytesOf(x), 0) + bytesOf(out) };
  },
});
