// Shared pieces of WGSL generation: storage declarations, dispatch grids, broadcast indexing,
// literals. Op files build their kernels from these so conventions live in one place.

import { numel, stridesOf, type DType, type Shape, type TensorType } from '../graph/index.js';
import type { KernelTarget } from './registry.js';

export function wgslType(d: DType): string {
  return d === 'f32' ? 'f32' : d === 'i32' ? 'i32' : 'f16';
}

/** Storage declarations following the binding convention: in0..in{n-1} read-only, `out` read-write. */
export function bindings(inputs: readonly TensorType[], output: TensorType): string {
  const all = [...inputs, output];
  const lines: string[] = [];
  if (all.some((t) => t.dtype === 'f16')) lines.push('enable f16;');
  inputs.forEach((t, i) => lines.push(`@group(0) @binding(${i}) var<storage, read> in${i}: array<${wgslType(t.dtype)}>;`));
  lines.push(`@group(0) @binding(${inputs.length}) var<storage, read_write> out: array<${wgslType(output.dtype)}>;`);
  return lines.join('\n');
}

export interface Grid {
  readonly workgroups: [number, number, number];
  /** WGSL statements that define `let i: u32` (the flat invocation index) and return past `count`. */
  readonly prologue: string;
  readonly workgroupSize: number;
}

/**
 * A 1-D launch of `count` invocations, folded into 2-D when it exceeds the per-dimension
 * workgroup limit. The kernel must declare `@builtin(global_invocation_id) gid: vec3<u32>`.
 */
export function linearGrid(count: number, target: KernelTarget, workgroupSize = 256): Grid {
  const wg = Math.min(workgroupSize, target.maxInvocationsPerWorkgroup);
  const groups = Math.max(1, Math.ceil(count / wg));
  const maxX = target.maxWorkgroupsPerDimension;
  const x = Math.min(groups, maxX);
  const y = Math.ceil(groups / x);
  const prologue = y > 1
    ? `let i: u32 = gid.x + gid.y * ${x * wg}u;\n  if (i >= ${count}u) { return; }`
    : `let i: u32 = gid.x;\n  if (i >= ${count}u) { return; }`;
  return { workgroups: [x, y, 1], prologue, workgroupSize: wg };
}

/**
 * WGSL u32 expression: the flat index into an input of shape `inShape` that is broadcast
 * (numpy rules, aligned right) to `outShape`, for the output element with flat index `idx`.
 */
export function broadcastIndex(outShape: Shape, inShape: Shape, idx: string): string {
  if (numel(inShape) === 1) return '0u';
  const same = inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i]);
  if (same) return idx;
  const outStrides = stridesOf(outShape);
  const inStrides = stridesOf(inShape);
  const offset = outShape.length - inShape.length;
  const terms: string[] = [];
  for (let k = 0; k < outShape.length; k++) {
    const ik = k - offset;
    if (ik < 0 || inShape[ik] === 1 || outShape[k] === 1) continue;
    const coord = `((${idx} / ${outStrides[k]}u) % ${outShape[k]}u)`;
    terms.push(inStrides[ik] === 1 ? coord : `${coord} * ${inStrides[ik]}u`);
  }
  return terms.length ? terms.join(' + ') : '0u';
}

/**
 * An f32 literal, including the non-finite values WGSL has no literal for. Tint rejects a
 * constant expression that evaluates to NaN or Inf, so those read the (always zero) bits of
 * `gid.x & 0u` to become runtime values; they are valid inside kernel entry points only.
 */
export function f32(x: number): string {
  if (Number.isNaN(x)) return 'bitcast<f32>(0x7fc00000u | (gid.x & 0u))';
  if (x === Infinity) return 'bitcast<f32>(0x7f800000u | (gid.x & 0u))';
  if (x === -Infinity) return 'bitcast<f32>(0xff800000u | (gid.x & 0u))';
  const s = String(Math.fround(x));
  return /[.eE]/.test(s) ? `${s}f` : `${s}.0f`;
}

/** Reads element `k` of input `i` as f32 whatever its storage type. */
export function load(i: number, t: TensorType, k: string): string {
  return t.dtype === 'f32' ? `in${i}[${k}]` : `f32(in${i}[${k}])`;
}

/** Converts an f32 expression to the output's storage type. */
export function store(t: TensorType, expr: string): string {
  return t.dtype === 'f32' ? expr : `${wgslType(t.dtype)}(${expr})`;
}

/** The standard compute entry point header with a given workgroup size. */
export function entry(workgroupSize: number | readonly [number, number, number]): string {
  const ws = typeof workgroupSize === 'number' ? `${workgroupSize}` : workgroupSize.join(', ');
  return `@compute @workgroup_size(${ws})\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>)`;
}

/** Device buffers are padded to 4 bytes and never empty (WebGPU forbids zero-size bindings). */
export function deviceByteSize(t: TensorType): number {
  const raw = numel(t.shape) * (t.dtype === 'f16' ? 2 : 4);
  return Math.max(4, Math.ceil(raw / 4) * 4);
}
