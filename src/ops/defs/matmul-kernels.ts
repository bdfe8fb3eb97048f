// WGSL generators for matmul. Every variant computes the same canonical problem: `batch`
// independent GEMMs out[bi] = op(A)[M,K] · op(B)[K,N], where A and B start at per-batch offsets
// (broadcast batch dims) and op() reads the stored matrix transposed when asked.
//
// Variants and why they exist:
//  - subgroup: rows of A shared by the 8 lanes of a workgroup through subgroupBroadcast, each
//    lane a block of columns; the fastest on llvmpipe by far (see subgroupBlocked).
//  - blocked: each invocation keeps an rm x (4*cn) block of outputs in registers and reads
//    operands as vec4 where rows are 16-byte aligned; no workgroup memory. The llvmpipe kernel
//    where subgroups are missing.
//  - blocked_scalar: the same blocking with scalar loads, for any shape (and as a check).
//  - skinny: blocked with one row per invocation, for M < 4 (e.g. one token at a time).
//  - tiled: 64x64 output tiles staged through workgroup memory, 4x4 per invocation: the
//    classic GPU kernel, where shared memory bandwidth pays.
//  - naive: one output per invocation: small problems, where compiling a big unrolled kernel
//    (0.5 to 7 s in llvmpipe) would cost more than it saves.
// Edges are handled by clamping load indices (loads stay in bounds and loops stay branch-free)
// and guarding stores. An optional epilogue (matmul_fused) maps every value as it is stored.
// Either operand may be stored as f16 (aF16 / bF16): loads go through `ldA` / `ldB`, which
// convert to f32, so only the declarations and the loads differ from the f32 kernels.

import type { Kernel, KernelTarget } from '../registry.js';

export const MATMUL_VARIANTS = ['subgroup', 'blocked', 'blocked_scalar', 'skinny', 'tiled', 'naive'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

/**
 * A per-element function applied to every output before it is stored (matmul_fused). Its extra
 * inputs bind from binding 2 on, and the output after them.
 */
export interface MatmulEpilogue {
  /** Module-scope WGSL: the extra bindings and helper functions. */
  readonly prelude: string;
  /** Number of extra bindings. */
  readonly extras: number;
  /** The stored f32 value for matmul value `value` at flat output index `index` (WGSL u32); may read `gid`. */
  apply(value: string, index: string): string;
  /** Appended to the variant's name. */
  readonly name: string;
  /** Some extra is stored as f16, so the module must `enable f16`. */
  readonly f16?: boolean;
}

/** One batched GEMM with shapes baked in. Offsets are WGSL u32 expressions of the batch index `bi`. */
export interface MatmulProblem {
  readonly batch: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly transA: boolean;
  readonly transB: boolean;
  /** Element offset of A's (and B's) matrix for output batch `bi`. */
  readonly aOffset: string;
  readonly bOffset: string;
  /**
   * A (B) is stored as f16: every variant converts each element to f32 as it loads it (`f32(x)`,
   * `vec4<f32>(v)`), so arithmetic and accumulation stay f32 whatever the storage.
   */
  readonly aF16?: boolean;
  readonly bF16?: boolean;
}

const flopsOf = (p: MatmulProblem): number => 2 * p.batch * p.M * p.N * p.K;

/** Below this many flops a software adapter runs the naive kernel (it compiles in ~20 ms). */
export const SMALL_FLOPS = 2 ** 22;

/**
 * The autotuner's key of a problem: what its speed depends on (shape, transposes, batch), not the
 * offsets' broadcast pattern. Choices in `target.matmulChoices` are looked up by it.
 */
export function matmulProblemKey(p: MatmulProblem): string {
  const f16 = p.aF16 || p.bF16 ? ` ${p.aF16 ? 'h' : 'f'}${p.bF16 ? 'h' : 'f'}` : ''; // f16 operands: a different kernel
  return `b${p.batch} m${p.M} k${p.K} n${p.N} ${p.transA ? 'T' : 'N'}${p.transB ? 'T' : 'N'}${f16}`;
}

/** The variants that can run `p` on `target` (every one computes the same result). */
export function applicableVariants(target: KernelTarget): MatmulVariant[] {
  // tiled: a tile of 4*ts per side, ts = 16 (256 invocations) or 8, two tile*16 f32 arrays shared.
  const tile = target.maxInvocationsPerWorkgroup >= 256 ? 64 : 32;
  const tiledFits = target.maxInvocationsPerWorkgroup >= 64 && target.maxWorkgroupStorageSize >= 2 * tile * 16 * 4;
  return MATMUL_VARIANTS.filter((v) => (v !== 'subgroup' || target.subgroups) && (v !== 'tiled' || tiledFits));
}

/** Chooses a variant: the autotuner's choice for this problem if the target has one, else the heuristic. */
export function chooseVariant(p: MatmulProblem, target: KernelTarget): MatmulVariant {
  const tuned = target.matmulChoices?.get(matmulProblemKey(p));
  if (tuned && applicableVariants(target).includes(tuned)) return tuned;
  return heuristicVariant(p, target);
}

/** The rule of thumb per target kind and shape, used where no tuning was done. */
export function heuristicVariant(p: MatmulProblem, target: KernelTarget): MatmulVariant {
  if (target.kind === 'gpu') {
    // A 64x64 tile mostly idles when one side is tiny: one thread per output reads better there.
    const tiledFits = target.maxWorkgroupStorageSize >= 8192 && target.maxInvocationsPerWorkgroup >= 64;
    return tiledFits && p.M >= 16 && p.N >= 16 ? 'tiled' : 'naive';
  }
  if (flopsOf(p) < SMALL_FLOPS) return 'naive';
  if (target.subgroups) return 'subgroup';
  return p.M < 4 ? 'skinny' : 'blocked';
}

/**
 * Register blocks by problem size: bigger blocks run faster on llvmpipe (fewer loads per
 * multiply-add) but take longer to compile (shapes are baked in, so every shape compiles once).
 * Measured on llvmpipe, 2 cores, per core at 1024^3 / CPU time to compile:
 * subgroup 32x64 k2 ~16 GFLOP/s / 7 s, 32x32 k2 ~14 / 2.3 s, 16x32 k2 ~11 / 1.1 s, 8x32 k2 ~9 / 0.5 s;
 * blocked 16x8 ~8.5 / 2.7 s, 4x8 ~5.5 / 0.9 s.
 */
export function subgroupShape(p: MatmulProblem): SgShape {
  const f = flopsOf(p);
  if (p.M <= 8) return { rm: 8, cols: 4, kc: 2, lanes: 8 };
  if (f >= 2 ** 30 && p.N > 32) return { rm: 32, cols: 8, kc: 2, lanes: 8 };
  if (f >= 2 ** 24 && p.M > 16) return { rm: 32, cols: 4, kc: 2, lanes: 8 };
  return { rm: 16, cols: 4, kc: 2, lanes: 8 };
}

export function blockedShape(p: MatmulProblem, vec: boolean): BlockShape {
  const big = flopsOf(p) >= 2 ** 26 && p.M > 8;
  return { rm: big ? 16 : 4, cn: 2, wx: 8, wy: 1, vec };
}

export function generateMatmul(p: MatmulProblem, variant: MatmulVariant, target: KernelTarget, epi?: MatmulEpilogue): Kernel {
  const k = generate(p, variant, target, epi);
  return epi ? { ...k, variant: `${k.variant}+${epi.name}` } : k;
}

function generate(p: MatmulProblem, variant: MatmulVariant, target: KernelTarget, epi?: MatmulEpilogue): Kernel {
  if (p.batch * p.M * p.N === 0) {
    // Never dispatched (empty output); index math over a zero extent would not compile.
    return { variant: `matmul.${variant}`, workgroups: [0, 0, 0], code: `${decls(p, 'f32', 'f32', 'f32', epi)}\n@compute @workgroup_size(1)\nfn main() {}\n` };
  }
  // K = 0 only writes zeros, which the naive kernel does without special cases.
  if (p.K === 0) return naive(p, target, epi);
  switch (variant) {
    case 'subgroup':
      if (!target.subgroups) throw new Error('matmul.subgroup needs the subgroups feature');
      return subgroupBlocked(p, subgroupShape(p), target, variant, epi);
    case 'blocked': return blocked(p, blockedShape(p, true), target, variant, epi);
    case 'blocked_scalar': return blocked(p, blockedShape(p, false), target, variant, epi);
    case 'skinny': return blocked(p, { rm: 1, cn: 2, wx: 8, wy: 1, vec: true }, target, variant, epi);
    case 'tiled': return tiled(p, target, epi);
    case 'naive': return naive(p, target, epi);
  }
}

// ---- shared pieces ------------------------------------------------------------------------------

const XYZW = ['x', 'y', 'z', 'w'];

/** Declarations; `a` / `b` are the f32 element types (f32 or vec4<f32>), switched to f16 where stored so. */
function decls(p: MatmulProblem, a: string, b: string, out: string, epi?: MatmulEpilogue): string {
  const half = (t: string, f16: boolean | undefined): string => (f16 ? t.replace('f32', 'f16') : t);
  return [
    ...(p.aF16 || p.bF16 || epi?.f16 ? ['enable f16;'] : []),
    `@group(0) @binding(0) var<storage, read> in0: array<${half(a, p.aF16)}>;`,
    `@group(0) @binding(1) var<storage, read> in1: array<${half(b, p.bF16)}>;`,
    `@group(0) @binding(${2 + (epi?.extras ?? 0)}) var<storage, read_write> out: array<${out}>;`,
    ...(epi ? [epi.prelude] : []),
  ].join('\n');
}

/** An element of A (B) as loaded from storage, converted to f32 (scalar or vec4) where stored as f16. */
const ldA = (p: MatmulProblem, load: string, vec = false): string => (p.aF16 ? `${vec ? 'vec4<f32>' : 'f32'}(${load})` : load);
const ldB = (p: MatmulProblem, load: string, vec = false): string => (p.bF16 ? `${vec ? 'vec4<f32>' : 'f32'}(${load})` : load);

/** The value stored at flat output index `index`: `value`, or the epilogue of it. */
const final = (epi: MatmulEpilogue | undefined, value: string, index: string): string => (epi ? epi.apply(value, index) : value);

const ENTRY_ARGS = '@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>';

/**
 * Spreads `groups` workgroups (row blocks x batch) over y and z, as one dimension may hold at most
 * maxWorkgroupsPerDimension. WGSL defining the flat index `g` of the workgroup, uniform per workgroup.
 */
function foldYZ(groups: number, target: KernelTarget): { y: number; z: number; code: string } {
  const y = Math.min(groups, target.maxWorkgroupsPerDimension);
  const z = Math.ceil(groups / y);
  if (z > target.maxWorkgroupsPerDimension) throw new Error(`matmul: ${groups} workgroups exceed the device's grid`);
  return { y, z, code: z > 1 ? `let g = wid.y + wid.z * ${y}u;` : 'let g = wid.y;' };
}

function checkX(x: number, target: KernelTarget): number {
  if (x > target.maxWorkgroupsPerDimension) throw new Error(`matmul: ${x} column workgroups exceed the device's grid`);
  return x;
}

/** Scalar element index of op(A)[m, k] and op(B)[k, n] (WGSL u32 expressions). */
function aIndex(p: MatmulProblem, m: string, k: string): string {
  return p.transA ? `aOff + (${k}) * ${p.M}u + ${m}` : `aOff + (${m}) * ${p.K}u + ${k}`;
}
function bIndex(p: MatmulProblem, k: string, n: string): string {
  return p.transB ? `bOff + (${n}) * ${p.K}u + ${k}` : `bOff + (${k}) * ${p.N}u + ${n}`;
}

// ---- register-blocked (lavapipe) ----------------------------------------------------------------

export interface BlockShape {
  /** Output rows per invocation (1, or a multiple of 4). */
  readonly rm: number;
  /** vec4 output columns per invocation. */
  readonly cn: number;
  /** Workgroup size over column blocks and row blocks. */
  readonly wx: number;
  readonly wy: number;
  /** vec4 loads and stores wherever the row starts are 16-byte aligned. */
  readonly vec: boolean;
}

/**
 * How an operand is read. For A: 'k4' vec4 along k (not transposed, K % 4 == 0), 'm4' vec4
 * along m covering 4 rows (transposed, M % 4 == 0), 's' scalar. For B: 'n4' vec4 along n (not
 * transposed, N % 4 == 0), 'k4' vec4 along k (transposed, K % 4 == 0), 's' scalar.
 */
type AMode = 'k4' | 'm4' | 's';
type BMode = 'n4' | 'k4' | 's';

export function blocked(p: MatmulProblem, s: BlockShape, target: KernelTarget, name: string, epi?: MatmulEpilogue): Kernel {
  const { M, N, K, rm, cn } = { ...p, ...s };
  const cols = 4 * cn;
  const aMode: AMode = !s.vec ? 's' : !p.transA ? (K % 4 === 0 ? 'k4' : 's') : M % 4 === 0 && rm % 4 === 0 ? 'm4' : 's';
  const bMode: BMode = !s.vec ? 's' : !p.transB ? (N % 4 === 0 ? 'n4' : 's') : K % 4 === 0 ? 'k4' : 's';
  const outVec = s.vec && N % 4 === 0;
  const K4 = K - (K % 4);
  const rowWgs = Math.ceil(Math.ceil(M / rm) / s.wy);
  const yz = foldYZ(rowWgs * p.batch, target);
  const wx = checkX(Math.ceil(Math.ceil(N / cols) / s.wx), target);
  const R = [...Array(rm).keys()];
  const C = [...Array(cn).keys()];
  const J = [...Array(cols).keys()];
  const L: string[] = [];
  const line = (x: string): void => void L.push(`  ${x}`);

  line(`let col0 = gid.x * ${cols}u;`);
  line(yz.code);
  line(`let bi = g / ${rowWgs}u;`);
  // With one row block per workgroup, row0 is visibly uniform, so llvmpipe loads A once per SIMD batch.
  line(s.wy === 1 ? `let row0 = (g % ${rowWgs}u) * ${rm}u;` : `let row0 = ((g % ${rowWgs}u) * ${s.wy}u + lid.y) * ${rm}u;`);
  line(`if (col0 >= ${N}u || row0 >= ${M}u || bi >= ${p.batch}u) { return; }`);
  line(`let aOff = ${p.aOffset};`);
  line(`let bOff = ${p.bOffset};`);
  // Per-row / per-column base indices, clamped so edge blocks load valid (duplicate) data.
  if (aMode === 'k4') R.forEach((r) => line(`let ra${r} = (aOff + min(row0 + ${r}u, ${M - 1}u) * ${K}u) / 4u;`));
  if (aMode === 'm4') R.filter((r) => r % 4 === 0).forEach((r) => line(`let rq${r / 4} = aOff / 4u + min(row0 + ${r}u, ${M - 4}u) / 4u;`));
  if (aMode === 's') R.forEach((r) => line(p.transA ? `let ra${r} = aOff + min(row0 + ${r}u, ${M - 1}u);` : `let ra${r} = aOff + min(row0 + ${r}u, ${M - 1}u) * ${K}u;`));
  if (bMode === 'n4') C.forEach((c) => line(`let cq${c} = bOff / 4u + min(col0 / 4u + ${c}u, ${N / 4 - 1}u);`));
  if (bMode === 'k4') J.forEach((j) => line(`let rb${j} = (bOff + min(col0 + ${j}u, ${N - 1}u) * ${K}u) / 4u;`));
  if (bMode === 's') J.forEach((j) => line(p.transB ? `let rb${j} = bOff + min(col0 + ${j}u, ${N - 1}u) * ${K}u;` : `let rb${j} = bOff + min(col0 + ${j}u, ${N - 1}u);`));
  R.forEach((r) => C.forEach((c) => line(`var acc${r}_${c} = vec4<f32>(0.0);`)));

  /** Loads for k .. k+kc-1 and the products, as WGSL lines. */
  const step = (kc: number): string[] => {
    const body: string[] = [];
    const kk = [...Array(kc).keys()];
    const kAt = (i: number): string => (i === 0 ? 'k' : `k + ${i}u`);
    let aAt: (r: number, i: number) => string;
    if (aMode === 'k4') {
      R.forEach((r) => body.push(`let a${r} = ${ldA(p, `in0[ra${r} + kq]`, true)};`));
      aAt = (r, i) => `a${r}.${XYZW[i]}`;
    } else if (aMode === 'm4') {
      kk.forEach((i) => R.filter((r) => r % 4 === 0).forEach((r) => body.push(`let a${r / 4}_${i} = ${ldA(p, `in0[rq${r / 4} + (${kAt(i)}) * ${M / 4}u]`, true)};`)));
      aAt = (r, i) => `a${Math.floor(r / 4)}_${i}.${XYZW[r % 4]}`;
    } else {
      kk.forEach((i) => R.forEach((r) => body.push(`let a${r}_${i} = ${ldA(p, `in0[ra${r} + ${p.transA ? `(${kAt(i)}) * ${M}u` : kAt(i)}]`)};`)));
      aAt = (r, i) => `a${r}_${i}`;
    }
    let bAt: (i: number, c: number) => string;
    if (bMode === 'n4') {
      kk.forEach((i) => C.forEach((c) => body.push(`let b${c}_${i} = ${ldB(p, `in1[cq${c} + (${kAt(i)}) * ${N / 4}u]`, true)};`)));
      bAt = (i, c) => `b${c}_${i}`;
    } else if (bMode === 'k4') {
      J.forEach((j) => body.push(`let bt${j} = ${ldB(p, `in1[rb${j} + kq]`, true)};`));
      bAt = (i, c) => `vec4<f32>(${[0, 1, 2, 3].map((q) => `bt${4 * c + q}.${XYZW[i]}`).join(', ')})`;
    } else {
      const at = (i: number, j: number): string => ldB(p, p.transB ? `in1[rb${j} + ${kAt(i)}]` : `in1[rb${j} + (${kAt(i)}) * ${N}u]`);
      kk.forEach((i) => C.forEach((c) => body.push(`let b${c}_${i} = vec4<f32>(${[0, 1, 2, 3].map((q) => at(i, 4 * c + q)).join(', ')});`)));
      bAt = (i, c) => `b${c}_${i}`;
    }
    kk.forEach((i) => R.forEach((r) => C.forEach((c) => body.push(`acc${r}_${c} = fma(vec4<f32>(${aAt(r, i)}), ${bAt(i, c)}, acc${r}_${c});`))));
    return body;
  };

  if (K4 > 0) {
    line(`for (var k = 0u; k < ${K4}u; k = k + 4u) {`);
    line('  let kq = k / 4u;');
    step(4).forEach((x) => line(`  ${x}`));
    line('}');
  }
  if (K4 < K) {
    // Only reached when K % 4 != 0, where no operand is read as vec4 along k.
    line(`for (var k = ${K4}u; k < ${K}u; k = k + 1u) {`);
    step(1).forEach((x) => line(`  ${x}`));
    line('}');
  }
  line(`let o = bi * ${M * N}u;`);
  for (const r of R) {
    line(`if (row0 + ${r}u < ${M}u) {`);
    line(`  let orow = o + (row0 + ${r}u) * ${N}u + col0;`);
    for (const c of C) {
      const v = (q: number): string => final(epi, `acc${r}_${c}.${XYZW[q]}`, `orow + ${4 * c + q}u`);
      const v4 = epi ? `vec4<f32>(${[0, 1, 2, 3].map(v).join(', ')})` : `acc${r}_${c}`;
      if (outVec) line(`  if (col0 + ${4 * c}u < ${N}u) { out[orow / 4u + ${c}u] = ${v4}; }`);
      else [0, 1, 2, 3].forEach((q) => line(`  if (col0 + ${4 * c + q}u < ${N}u) { out[orow + ${4 * c + q}u] = ${v(q)}; }`));
    }
    line('}');
  }
  const modes = aMode === 's' && bMode === 's' && !outVec ? 'scalar' : `a:${aMode},b:${bMode},out:${outVec ? 'v4' : 's'}`;
  return {
    variant: `matmul.${name}${rm}x${cols}(${modes})`,
    workgroups: [wx, yz.y, yz.z],
    code: `${decls(p, aMode === 's' ? 'f32' : 'vec4<f32>', bMode === 's' ? 'f32' : 'vec4<f32>', outVec ? 'vec4<f32>' : 'f32', epi)}\n` +
      `@compute @workgroup_size(${s.wx}, ${s.wy}, 1)\nfn main(${ENTRY_ARGS}) {\n${L.join('\n')}\n}\n`,
  };
}

// ---- workgroup-tiled (hardware GPUs) -------------------------------------------------------------

function tiled(p: MatmulProblem, target: KernelTarget, epi?: MatmulEpilogue): Kernel {
  const { M, N, K } = p;
  const ts = target.maxInvocationsPerWorkgroup >= 256 ? 16 : 8; // invocations per tile side
  const tile = 4 * ts; // each invocation computes 4x4 outputs
  const tk = 16;
  const threads = ts * ts;
  const perThread = (tile * tk) / threads;
  const rowWgs = Math.ceil(M / tile);
  const yz = foldYZ(rowWgs * p.batch, target);
  const wx = checkX(Math.ceil(N / tile), target);
  const I = [0, 1, 2, 3];
  const L: string[] = [];
  const line = (x: string): void => void L.push(`  ${x}`);
  line(yz.code);
  // Uniform per workgroup, so returning before the barriers is allowed.
  line(`if (g >= ${rowWgs * p.batch}u) { return; }`);
  line(`let bi = g / ${rowWgs}u;`);
  line(`let m0 = (g % ${rowWgs}u) * ${tile}u;`);
  line(`let n0 = wid.x * ${tile}u;`);
  line(`let t = lid.y * ${ts}u + lid.x;`);
  line(`let aOff = ${p.aOffset};`);
  line(`let bOff = ${p.bOffset};`);
  I.forEach((i) => line(`var acc${i} = vec4<f32>(0.0);`));
  line(`for (var k0 = 0u; k0 < ${K}u; k0 = k0 + ${tk}u) {`);
  // Consecutive invocations read consecutive addresses of whichever axis is contiguous.
  for (let l = 0; l < perThread; l++) {
    const e = `(t + ${l * threads}u)`;
    const [am, ak] = p.transA ? [`${e} % ${tile}u`, `${e} / ${tile}u`] : [`${e} / ${tk}u`, `${e} % ${tk}u`];
    const [bk, bn] = p.transB ? [`${e} % ${tk}u`, `${e} / ${tk}u`] : [`${e} / ${tile}u`, `${e} % ${tile}u`];
    line(`  {`);
    line(`    let am = ${am}; let ak = ${ak};`);
    line(`    var av = 0.0;`);
    line(`    if (m0 + am < ${M}u && k0 + ak < ${K}u) { av = ${ldA(p, `in0[${aIndex(p, 'm0 + am', 'k0 + ak')}]`)}; }`);
    line(`    As[ak * ${tile}u + am] = av;`);
    line(`    let bk = ${bk}; let bn = ${bn};`);
    line(`    var bv = 0.0;`);
    line(`    if (n0 + bn < ${N}u && k0 + bk < ${K}u) { bv = ${ldB(p, `in1[${bIndex(p, 'k0 + bk', 'n0 + bn')}]`)}; }`);
    line(`    Bs[bk * ${tile}u + bn] = bv;`);
    line(`  }`);
  }
  line('  workgroupBarrier();');
  line(`  for (var kk = 0u; kk < ${tk}u; kk = kk + 1u) {`);
  line(`    let ar = kk * ${tile}u + lid.y * 4u;`);
  line(`    let bc = kk * ${tile}u + lid.x * 4u;`);
  line('    let b = vec4<f32>(Bs[bc], Bs[bc + 1u], Bs[bc + 2u], Bs[bc + 3u]);');
  I.forEach((i) => line(`    acc${i} = fma(vec4<f32>(As[ar + ${i}u]), b, acc${i});`));
  line('  }');
  line('  workgroupBarrier();');
  line('}');
  line(`let o = bi * ${M * N}u;`);
  line('let n = n0 + lid.x * 4u;');
  for (const i of I) {
    line(`let row${i} = m0 + lid.y * 4u + ${i}u;`);
    line(`if (row${i} < ${M}u) {`);
    I.forEach((j) => line(`  if (n + ${j}u < ${N}u) { out[o + row${i} * ${N}u + n + ${j}u] = ${final(epi, `acc${i}.${XYZW[j]}`, `o + row${i} * ${N}u + n + ${j}u`)}; }`));
    line('}');
  }
  return {
    variant: `matmul.tiled${tile}x${tile}x${tk}`,
    workgroups: [wx, yz.y, yz.z],
    code: `${decls(p, 'f32', 'f32', 'f32', epi)}\nvar<workgroup> As: array<f32, ${tile * tk}>;\nvar<workgroup> Bs: array<f32, ${tile * tk}>;\n` +
      `@compute @workgroup_size(${ts}, ${ts}, 1)\nfn main(${ENTRY_ARGS}) {\n${L.join('\n')}\n}\n`,
  };
}

// ---- one output per invocation ---------------------------------------------------------------------

function naive(p: MatmulProblem, target: KernelTarget, epi?: MatmulEpilogue): Kernel {
  const { M, N, K } = p;
  const count = p.batch * M * N;
  const wg = Math.min(64, target.maxInvocationsPerWorkgroup);
  const groups = Math.ceil(count / wg);
  const x = Math.min(groups, target.maxWorkgroupsPerDimension);
  const y = Math.ceil(groups / x);
  const code = `${decls(p, 'f32', 'f32', 'f32', epi)}
@compute @workgroup_size(${wg})
fn main(${ENTRY_ARGS}) {
  let i = gid.x + gid.y * ${x * wg}u;
  if (i >= ${count}u) { return; }
  let bi = i / ${M * N}u;
  let m = (i / ${N}u) % ${M}u;
  let n = i % ${N}u;
  let aOff = ${p.aOffset};
  let bOff = ${p.bOffset};
  var acc = 0.0;
  for (var k = 0u; k < ${K}u; k = k + 1u) {
    acc = fma(${ldA(p, `in0[${aIndex(p, 'm', 'k')}]`)}, ${ldB(p, `in1[${bIndex(p, 'k', 'n')}]`)}, acc);
  }
  out[i] = ${final(epi, 'acc', 'i')};
}
`;
  return { variant: 'matmul.naive', workgroups: [x, y, 1], code };
}

// ---- register-blocked with subgroup-shared A (llvmpipe with subgroups) ---------------------------
//
// llvmpipe runs 8 invocations as one 8-lane SIMD batch and performs every storage load lane by
// lane (about a dozen instructions per lane and scalar, vec4 included), while a multiply-add
// costs one instruction for all 8 lanes. Loads dominate, so: the 8 lanes of a workgroup share
// rm rows of A, each lane loads 1/8 of them and subgroupBroadcast hands them to the others; each
// lane loads only its own columns of B. Only this needs the workgroup (8 invocations) to be one
// subgroup; where it is not (subgroups of 4, e.g. SwiftShader) a plain loop computes the block.

export interface SgShape {
  /** Output rows per workgroup (a multiple of 8), shared by the 8 lanes. */
  readonly rm: number;
  /** Output columns per lane. */
  readonly cols: number;
  /** k values per loop step (rm * kc loads of A per step, spread over the lanes). */
  readonly kc: number;
  /** Workgroup size, which the fast path needs to be exactly one subgroup (8 on llvmpipe at 256 bits). */
  readonly lanes: number;
}

export function subgroupBlocked(p: MatmulProblem, s: SgShape, target: KernelTarget, name: string, epi?: MatmulEpilogue): Kernel {
  const { M, N, K } = p;
  const { rm, cols, kc, lanes: LANES } = s;
  if (rm % LANES !== 0) throw new Error(`matmul.${name}: rm must be a multiple of ${LANES}`);
  const rowWgs = Math.ceil(M / rm);
  const yz = foldYZ(rowWgs * p.batch, target);
  const wx = checkX(Math.ceil(N / (cols * LANES)), target);
  const R = [...Array(rm).keys()];
  const J = [...Array(cols).keys()];
  const L: string[] = [];
  const line = (x: string): void => void L.push(`  ${x}`);
  const store = (r: string, j: string, v: string): string =>
    `if (row0 + ${r} < ${M}u && col0 + ${j} < ${N}u) { out[o + (row0 + ${r}) * ${N}u + col0 + ${j}] = ${final(epi, v, `o + (row0 + ${r}) * ${N}u + col0 + ${j}`)}; }`;
  line(yz.code);
  line(`let bi = g / ${rowWgs}u;`);
  line(`if (bi >= ${p.batch}u) { return; }`);
  line(`let row0 = (g % ${rowWgs}u) * ${rm}u;`);
  line(`let col0 = (wid.x * ${LANES}u + lid.x) * ${cols}u;`);
  line(`let aOff = ${p.aOffset};`);
  line(`let bOff = ${p.bOffset};`);
  line(`let o = bi * ${M * N}u;`);
  // Edge lanes stay active (clamped loads, guarded stores): broadcasts read every lane.
  // One flat loop (not nested constant loops, which the compiler would unroll into a huge body).
  line(`if (subgroupAdd(1u) != ${LANES}u) {`);
  line('  var acc = 0.0;');
  line(`  for (var t = 0u; t < ${rm * cols * K}u; t = t + 1u) {`);
  line(`    let k = t % ${K}u;`);
  line(`    let r = t / ${cols * K}u;`);
  line(`    let j = (t / ${K}u) % ${cols}u;`);
  line(`    acc = acc + ${ldA(p, `in0[${aIndex(p, `min(row0 + r, ${M - 1}u)`, 'k')}]`)} * ${ldB(p, `in1[${bIndex(p, 'k', `min(col0 + j, ${N - 1}u)`)}]`)};`);
  line(`    if (k == ${K - 1}u) { ${store('r', 'j', 'acc')} acc = 0.0; }`);
  line('  }');
  line('  return;');
  line('}');
  J.forEach((j) => line(`let cc${j} = min(col0 + ${j}u, ${N - 1}u);`));
  // Lane sg loads, for each multiple j of 8, A's row row0 + (j % rm) + sg at k offset j / rm.
  R.filter((r) => r % LANES === 0).forEach((r) => line(`let ar${r} = min(row0 + sg + ${r}u, ${M - 1}u);`));
  R.forEach((r) => J.forEach((j) => line(`var acc${r}_${j} = 0.0;`)));
  const step = (k: number): string[] => {
    const body: string[] = [];
    const kAt = (i: number): string => (i ? `k + ${i}u` : 'k');
    for (let i = 0; i < (rm * k) / LANES; i++) {
      const j = i * LANES;
      body.push(`let ai${i} = ${ldA(p, `in0[${aIndex(p, `ar${j % rm}`, kAt(Math.floor(j / rm)))}]`)};`);
    }
    for (let kk = 0; kk < k; kk++) J.forEach((j) => body.push(`let b${kk}_${j} = ${ldB(p, `in1[${bIndex(p, kAt(kk), `cc${j}`)}]`)};`));
    for (let kk = 0; kk < k; kk++) {
      for (const r of R) {
        const jj = kk * rm + r;
        body.push(`let a${kk}_${r} = subgroupBroadcast(ai${Math.floor(jj / LANES)}, ${jj % LANES}u);`);
        J.forEach((j) => body.push(`acc${r}_${j} = acc${r}_${j} + a${kk}_${r} * b${kk}_${j};`));
      }
    }
    return body;
  };
  const Kmain = K - (K % kc);
  if (Kmain > 0) {
    line(`for (var k = 0u; k < ${Kmain}u; k = k + ${kc}u) {`);
    step(kc).forEach((x) => line(`  ${x}`));
    line('}');
  }
  if (Kmain < K) {
    line(`for (var k = ${Kmain}u; k < ${K}u; k = k + 1u) {`);
    step(1).forEach((x) => line(`  ${x}`));
    line('}');
  }
  R.forEach((r) => J.forEach((j) => line(store(`${r}u`, `${j}u`, `acc${r}_${j}`))));
  return {
    variant: `matmul.${name}${rm}x${cols * LANES}`,
    workgroups: [wx, yz.y, yz.z],
    // The fallback branch depends on subgroupAdd, which WGSL's analysis cannot see is uniform per subgroup.
    code: `enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n${decls(p, 'f32', 'f32', 'f32', epi)}\n` +
      `@compute @workgroup_size(${LANES}, 1, 1)\nfn main(${ENTRY_ARGS}, @builtin(subgroup_invocation_id) sg: u32) {\n${L.join('\n')}\n}\n`,
  };
}
