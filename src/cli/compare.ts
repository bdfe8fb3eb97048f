// Element-wise comparison of a WebGPU result against the CPU reference, summarised as the
// largest errors, using the same criterion as the test suite: |gpu - cpu| <= abs + rel * |cpu|.

import { formatType, sameShape } from '../graph/index.js';
import type { HostTensor } from '../ops/index.js';

export interface Tolerance {
  readonly rel: number;
  readonly abs: number;
}

/** rel 1e-5 as asked of every kernel, with a small absolute floor for values near zero. */
export const DEFAULT_TOLERANCE: Tolerance = { rel: 1e-5, abs: 1e-6 };

export interface Comparison {
  readonly ok: boolean;
  readonly maxAbsError: number;
  /**
   * Largest |gpu - cpu| / (abs + rel * |cpu|): the share of the tolerance the worst element
   * used (<= 1 passes). Plain relative error misleads on values near zero.
   */
  readonly toleranceUsed: number;
  /** Why it failed, when it did: first element outside the tolerance, or a type mismatch. */
  readonly problem?: string;
}

export function compareTensors(gpu: HostTensor, cpu: HostTensor, tol: Tolerance = DEFAULT_TOLERANCE): Comparison {
  if (gpu.dtype !== cpu.dtype || !sameShape(gpu.shape, cpu.shape)) {
    return { ok: false, maxAbsError: Infinity, toleranceUsed: Infinity, problem: `webgpu gave ${formatType(gpu)}, cpu gave ${formatType(cpu)}` };
  }
  let maxAbsError = 0, toleranceUsed = 0;
  let problem: string | undefined;
  for (let i = 0; i < cpu.data.length; i++) {
    const a = gpu.data[i], e = cpu.data[i];
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      // NaN must match NaN and an infinity the same infinity.
      if (!(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)))) problem ??= `element ${i}: webgpu ${a}, cpu ${e}`;
      continue;
    }
    const err = Math.abs(a - e);
    maxAbsError = Math.max(maxAbsError, err);
    const allowed = tol.abs + tol.rel * Math.abs(e);
    toleranceUsed = Math.max(toleranceUsed, err / allowed);
    if (err > allowed) problem ??= `element ${i}: webgpu ${a}, cpu ${e}`;
  }
  return problem === undefined ? { ok: true, maxAbsError, toleranceUsed } : { ok: false, maxAbsError, toleranceUsed, problem };
}

/** Short scientific notation for error columns. */
export function formatError(x: number): string {
  return x === 0 ? '0' : Number.isFinite(x) ? x.toExponential(1) : String(x);
}

/** `|gpu - cpu| <= 1e-6 + 1e-5 * |cpu|` */
export function formatTolerance(tol: Tolerance = DEFAULT_TOLERANCE): string {
  return `|gpu - cpu| <= ${tol.abs.toExponential()} + ${tol.rel.toExponential()} * |cpu|`;
}

/** A share of the tolerance as a percentage: `38%`. */
export function formatShare(x: number): string {
  return Number.isFinite(x) ? `${x < 0.01 && x > 0 ? '<1' : Math.round(x * 100)}%` : String(x);
}
