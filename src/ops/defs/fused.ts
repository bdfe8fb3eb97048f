// `fused`: a chain (tree) of element-wise ops computed by one kernel. The fusion pass creates
// it; its program lists the steps, each an element-wise op from the registry, so the reference
// and the WGSL are both derived from the original ops' entries.

import * as t from 'io-ts';
import { numel, ShapeError, formatType, sameType, type Attrs, type TensorType } from '../../graph/index.js';
import { decodeOrThrow } from '../../util/decode.js';
import { decodeAttrs, defineOp, getOp, type Kernel } from '../registry.js';
import type { HostTensor } from '../host.js';
import { bindings, broadcastIndex, entry, linearGrid, load, store } from '../wgsl.js';
import { ELEMENTWISE_PRELUDE } from './elementwise.js';
import { bytesOf } from '../shape.js';

/** One step: `args[k] >= 0` is external input k, `args[k] < 0` is step (-args[k] - 1). */
export interface FusedStep {
  readonly op: string;
  readonly args: readonly number[];
  readonly attrs: Attrs;
  readonly type: TensorType;
}

const StepCodec = t.type({
  op: t.string,
  args: t.array(t.number),
  attrs: t.record(t.string, t.unknown),
  type: t.type({ shape: t.array(t.number), dtype: t.keyof({ f32: null, i32: null, f16: null }) }),
});
const ProgramCodec = t.array(StepCodec);

export function encodeProgram(steps: readonly FusedStep[]): string {
  return JSON.stringify(steps);
}

export function decodeProgram(program: string): FusedStep[] {
  return decodeOrThrow(ProgramCodec, JSON.parse(program), 'fused program') as FusedStep[];
}

/** The element-wise expression of every step, as WGSL `let` bindings; returns the last name. */
export function fusedBody(steps: readonly FusedStep[], external: (k: number) => string): { lines: string[]; result: string } {
  const lines: string[] = [];
  steps.forEach((s, j) => {
    const def = getOp(s.op);
    if (!def.elementwise) throw new ShapeError(`fused step ${j}: op '${s.op}' is not element-wise`);
    const args = s.args.map((a) => (a >= 0 ? external(a) : `t${-a - 1}`));
    lines.push(`let t${j}: f32 = ${def.elementwise(args, decodeAttrs(def, s.attrs, `fused step ${j}`))};`);
  });
  return { lines, result: `t${steps.length - 1}` };
}

/** Checks every step's recorded type against its op's rule; returns the last step's type. */
export function programType(steps: readonly FusedStep[], external: (k: number) => TensorType | undefined): TensorType {
  if (steps.length === 0) throw new ShapeError('fused program is empty');
  steps.forEach((s, j) => {
    const argTypes = s.args.map((x) => (x >= 0 ? external(x) : steps[-x - 1]?.type));
    if (argTypes.some((x) => x === undefined)) throw new ShapeError(`fused step ${j} refers to a missing value`);
    const def = getOp(s.op);
    const got = def.type(argTypes as TensorType[], decodeAttrs(def, s.attrs, `fused step ${j}`), s.type);
    if (!sameType(got, s.type)) throw new ShapeError(`fused step ${j} (${s.op}) gives ${formatType(got)}, recorded ${formatType(s.type)}`);
  });
  return steps[steps.length - 1].type;
}

/** The steps' references in sequence; returns the last value. */
export function programReference(steps: readonly FusedStep[], external: readonly HostTensor[]): HostTensor {
  const vals: HostTensor[] = [];
  for (const s of steps) {
    const def = getOp(s.op);
    const args = s.args.map((x) => (x >= 0 ? external[x] : vals[-x - 1]));
    // Round each step like the unfused program stores it, so fusion only changes rounding of loads.
    const r = def.reference!(args, decodeAttrs(def, s.attrs, 'fused step'), s.type);
    vals.push(s.type.dtype === 'i32' ? r : { ...r, data: r.data.map(Math.fround) });
  }
  return vals[vals.length - 1];
}

export function programFlops(steps: readonly FusedStep[], external: (k: number) => TensorType): number {
  return steps.reduce((s, st) => s + getOp(st.op).cost(st.args.map((x) => (x >= 0 ? external(x) : steps[-x - 1].type)), st.type, decodeAttrs(getOp(st.op), st.attrs, 'fused step')).flops, 0);
}

export const fused = defineOp({
  name: 'fused',
  doc: 'several element-wise ops computed in one kernel (made by the fusion pass)',
  arity: 'variadic',
  attrs: t.type({ program: t.string }),
  type(inputs, a, declared) {
    const last = programType(decodeProgram(a.program), (k) => inputs[k]);
    if (declared.shape.length && !sameType(last, declared)) throw new ShapeError(`fused result ${formatType(last)} differs from ${formatType(declared)}`);
    return last;
  },
  reference(inputs, a) {
    return programReference(decodeProgram(a.program), inputs);
  },
  kernel({ inputs, output, attrs, target }): Kernel {
    const steps = decodeProgram(attrs.program);
    const grid = linearGrid(numel(output.shape), target);
    const loads = inputs.map((x, k) => `let x${k}: f32 = ${load(k, x, broadcastIndex(output.shape, x.shape, 'i'))};`);
    const body = fusedBody(steps, (k) => `x${k}`);
    return {
      variant: `fused.${steps.map((s) => s.op).join('+')}`,
      workgroups: grid.workgroups,
      code: `${bindings(inputs, output)}\n${ELEMENTWISE_PRELUDE}\n${entry(grid.workgroupSize)} {\n  ${grid.prologue}\n  ${[...loads, ...body.lines].join('\n  ')}\n  out[i] = ${store(output, body.result)};\n}\n`,
    };
  },
  cost(inputs, out, a) {
    return { flops: programFlops(decodeProgram(a.program), (k) => inputs[k]), bytes: inputs.reduce((s, x) => s + bytesOf(x), 0) + bytesOf(out) };
  },
});
