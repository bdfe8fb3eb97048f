// WGSL of the fused attention ops. One invocation owns one query row (forward, row statistics,
// dq) or one key row (dk, dv, dkp, dvp) and loops over the other side's rows, so no score matrix
// is stored. A workgroup's lanes all belong to one (batch, head) pair, so the rows it loops over
// are the same for every lane. Head vectors are unrolled over dh into scalar registers (no
// private arrays, which lavapipe keeps on the stack). The softmax is online (running max m and
// sum l, rescaled only when the max grows).
//
// Variants: on lavapipe with subgroups ('cpu' + subgroups, `sg8`), a workgroup is one 8-lane
// subgroup, and each shared row is loaded 1/8 per lane and handed round with subgroupBroadcast:
// lavapipe performs storage loads lane by lane (see matmul-kernels.ts), so this cuts the loads
// per key by 8; a plain body runs where the subgroup is not 8 lanes wide. Elsewhere (`pair8`
// on lavapipe without subgroups, `pair64` on GPUs) every lane loads the shared rows itself,
// which a GPU serves as broadcasts from its cache.

import type { TensorType } from '../../graph/index.js';
import type { Kernel, KernelTarget } from '../registry.js';
import { bindings, f32 } from '../wgsl.js';
import type { AttentionLayout, KeyBlock, MaskLayout, Strides } from './attention-layout.js';

const LANES = 8;
const D = (dh: number): number[] => [...Array(dh).keys()];

/** How rows every lane needs are loaded. */
type Mode = 'plain' | 'subgroup';

/** Scalars `${name}0..` of row `base` of input `bind`, the same row for every lane. */
function sharedRow(mode: Mode, name: string, bind: number, base: string, dh: number): string {
  if (mode === 'plain') return D(dh).map((d) => `let ${name}${d} = in${bind}[${base} + ${d}u];`).join(' ');
  const parts = [...Array(Math.ceil(dh / LANES)).keys()].map((t) => `let ${name}_l${t} = in${bind}[${base} + min(sg + ${t * LANES}u, ${dh - 1}u)];`);
  return [...parts, ...D(dh).map((d) => `let ${name}${d} = subgroupBroadcast(${name}_l${Math.floor(d / LANES)}, ${d % LANES}u);`)].join(' ');
}

/** Scalars `${name}0..` of the lane's own row (times `factor`). */
function ownRow(name: string, bind: number, base: string, dh: number, factor?: string): string {
  return D(dh).map((d) => `let ${name}${d} = in${bind}[${base} + ${d}u]${factor ? ` * ${factor}` : ''};`).join('\n  ');
}

const dot = (a: string, b: string, dh: number): string => D(dh).map((d) => `${a}${d} * ${b}${d}`).join(' + ');
const zeros = (name: string, dh: number): string => D(dh).map((d) => `var ${name}${d} = 0.0f;`).join(' ');
const each = (dh: number, f: (d: number) => string): string => D(dh).map(f).join(' ');

function storeRow(name: string, base: string, dh: number, factor: string): string {
  return D(dh).map((d) => `out[${base} + ${d}u] = ${name}${d} * ${factor};`).join('\n  ');
}

/** u32 expression of the mask's row offset for batch, head and query index variables. */
function maskRow(m: MaskLayout, b: string, h: string, i: string): string {
  const terms = [[b, m.strides[0]], [h, m.strides[1]], [i, m.strides[2]]].filter(([, s]) => s !== 0).map(([v, s]) => `${v} * ${s}u`);
  return terms.length ? terms.join(' + ') : '0u';
}

/** u32 offset of row `i` of head `h`, batch `b` of a head tensor (either layout; zero strides dropped). */
function rowAt(st: Strides, b: string, h: string, i: string): string {
  const terms = [[b, st.b], [h, st.h], [i, st.i]].filter(([, k]) => k !== 0).map(([v, k]) => `${v} * ${k}u`);
  return terms.length ? terms.join(' + ') : '0u';
}

/** `base` plus a constant column offset (a 'pc' prefix's keys or values). */
const plus = (base: string, col?: number): string => (col ? `${base} + ${col}u` : base);

function maskTerm(blk: KeyBlock, maskInput: number | undefined, row: string, j: string): string {
  return blk.maskCol !== undefined && maskInput !== undefined ? ` + in${maskInput}[${row} + ${blk.maskCol}u + ${j}]` : '';
}

/**
 * `for (var v = 0u; v < n; v++)` with a bound the shader compiler cannot see as constant: `n`
 * never exceeds the length of `bind` (a buffer the loop reads), but fully unrolled key loops
 * make llvmpipe's JIT take ~10x longer (20 s instead of 2 s for a small forward kernel).
 */
function loop(v: string, n: number, bind: number, from = '0u', upTo?: string): string {
  const bound = `min(${n}u, arrayLength(&in${bind}))`;
  return `for (var ${v} = ${from}; ${v} < ${upTo ? `min(${upTo}, ${bound})` : bound}; ${v}++)`;
}

/**
 * A causal block's loop bound (query kernels: the group's last query sees keys up to
 * last + c) and per-lane visibility; both uniform-safe: the loop bound is the group's, lanes
 * past their own last key mask their terms out.
 */
function causalKeys(blk: KeyBlock): { upTo?: string; vis: string } {
  return blk.causal === undefined ? { vis: 'true' } : { upTo: `li_last + ${blk.causal + 1}u`, vis: `j <= qi + ${blk.causal}u` };
}

/**
 * The launch: each workgroup takes `wg` rows (lanes) of one (batch, head) pair `bh`. Defines
 * `bh`, `li` (the lane's row within the pair, clamped: edge lanes stay active, since the
 * broadcasts read every lane) and `live` (whether the lane's row exists, which guards stores).
 * `body(mode)` is the kernel for a row-loading mode.
 */
function build(inputs: readonly TensorType[], output: TensorType, pairs: number, perPair: number, target: KernelTarget, variant: string, body: (mode: Mode) => string): Kernel {
  const sg = target.kind === 'cpu' && target.subgroups;
  const wg = sg ? LANES : Math.min(target.kind === 'cpu' ? LANES : 64, target.maxInvocationsPerWorkgroup);
  const chunks = Math.max(1, Math.ceil(perPair / wg));
  const groups = Math.max(1, pairs * chunks);
  const x = Math.min(groups, target.maxWorkgroupsPerDimension);
  const y = Math.ceil(groups / x);
  const prologue = `let g = wid.x + wid.y * ${x}u;\n  let bh = g / ${chunks}u;\n  if (bh >= ${pairs}u) { return; }\n` +
    `  let li_first = (g % ${chunks}u) * ${wg}u;\n  let li_last = min(li_first + ${wg - 1}u, ${Math.max(perPair, 1) - 1}u);\n` +
    `  let li0 = li_first + lid.x;\n  let live = li0 < ${perPair}u;\n  let li = min(li0, ${Math.max(perPair, 1) - 1}u);`;
  const empty = pairs * perPair === 0;
  // Where the adapter does not promise 8-lane subgroups, a plain body runs on narrower ones; it
  // makes llvmpipe's JIT ~5x slower, so it is left out where the promise is made. Its condition
  // is uniform per subgroup, which WGSL's analysis cannot see (hence the diagnostic).
  const fallback = (target.subgroupMinSize ?? 0) < LANES;
  const main = empty ? '' : !sg ? body('plain')
    : fallback ? `if (subgroupAdd(1u) != ${LANES}u) {\n  ${body('plain')}\n  return;\n  }\n  ${body('subgroup')}` : body('subgroup');
  const head = sg ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : '';
  const args = `@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>${sg ? ', @builtin(subgroup_invocation_id) sg: u32' : ''}`;
  const code = `${head}${bindings(inputs, output)}\n@compute @workgroup_size(${wg})\nfn main(${args}) {\n  ${prologue}\n  ${main}\n}\n`;
  return { code, workgroups: [x, y, 1], variant: `${variant}.${sg ? 'sg' : 'pair'}${wg}` };
}

// ---- per query row: forward, row statistics, dq ------------------------------------------------

export interface QueryKernelSpec {
  readonly L: AttentionLayout;
  readonly blocks: readonly KeyBlock[];
  readonly maskInput?: number;
  readonly scale: number;
  readonly inputs: readonly TensorType[];
  readonly output: TensorType;
  readonly target: KernelTarget;
}

/**
 * Row r = (b*H + h)*S + qi (the statistics' index); `qo`, `oo` the offsets of the row in q and in
 * the output (or dO); q pre-scaled into q0..; `mrow` the mask row offset.
 */
function queryFrame(s: QueryKernelSpec): string {
  const { L } = s;
  const lines = [
    `let qi = li;\n  let r = bh * ${L.S}u + qi;\n  let h = bh % ${L.H}u;\n  let b = bh / ${L.H}u;\n  let qo = ${rowAt(L.q, 'b', 'h', 'qi')};\n  let oo = ${rowAt(L.o, 'b', 'h', 'qi')};`,
    ownRow('q', 0, 'qo', L.dh, f32(s.scale)),
  ];
  if (L.mask && s.maskInput !== undefined) lines.push(`let mrow = ${maskRow(L.mask, 'b', 'h', 'qi')};`);
  return lines.join('\n  ');
}

/**
 * Loops over every key of every block; `body` sees the score `s`, the key row k0.. and the row
 * offset `ko` (values share the keys' strides); `values` also loads the value row v0...
 */
function keyLoops(s: QueryKernelSpec, mode: Mode, values: boolean, body: string): string {
  const dh = s.L.dh;
  return s.blocks.map((blk) => {
    if (values && blk.values === undefined) throw new Error('attention kernel: a block without values');
    const { upTo, vis } = causalKeys(blk);
    return `${loop('j', blk.n, blk.keys, '0u', upTo)} {
    let ko = ${rowAt(blk.strides, 'b', 'h', 'j')};
    let vis = ${vis};
    ${sharedRow(mode, 'k', blk.keys, plus('ko', blk.kCol), dh)}
    ${values ? sharedRow(mode, 'v', blk.values!, plus('ko', blk.vCol), dh) : ''}
    let s = ${dot('q', 'k', dh)}${maskTerm(blk, s.maskInput, 'mrow', 'j')};
    ${body}
  }`;
  }).join('\n  ');
}

const rows = (s: QueryKernelSpec): [number, number] => [s.L.B * s.L.H, s.L.S];

/** out[r] = Σ_j softmax_j(s) v_j. */
export function forwardKernel(s: QueryKernelSpec): Kernel {
  const dh = s.L.dh;
  return build(s.inputs, s.output, ...rows(s), s.target, 'attention', (mode) => [
    queryFrame(s),
    `var m = -3.0e38f;\n  var l = 0.0f;\n  ${zeros('a', dh)}`,
    keyLoops(s, mode, true, `if (vis && s > m) { let c = exp(m - s); l = l * c; ${each(dh, (d) => `a${d} = a${d} * c;`)} m = s; }
    let e = select(0.0f, exp(s - m), vis);
    l = l + e;
    ${each(dh, (d) => `a${d} = a${d} + e * v${d};`)}`),
    `if (live) {\n  let inv = 1.0f / l;\n  ${storeRow('a', 'oo', dh, 'inv')}\n  }`,
  ].join('\n  '));
}

/** out[r] = (logsumexp_j s, dO_r · O_r): what the key-side backward kernels need per query. */
export function statsKernel(s: QueryKernelSpec, dyInput: number, outInput: number): Kernel {
  const dh = s.L.dh;
  return build(s.inputs, s.output, ...rows(s), s.target, 'attention_stats', (mode) => [
    queryFrame(s),
    'var m = -3.0e38f;\n  var l = 0.0f;',
    keyLoops(s, mode, false, 'if (vis && s > m) { l = l * exp(m - s); m = s; }\n    l = l + select(0.0f, exp(s - m), vis);'),
    `var dd = 0.0f;\n  for (var d = 0u; d < ${dh}u; d++) { dd = dd + in${dyInput}[oo + d] * in${outInput}[oo + d]; }`,
    'if (live) {\n  out[r * 2u] = m + log(l);\n  out[r * 2u + 1u] = dd;\n  }',
  ].join('\n  '));
}

/**
 * dq = scale Σ_j p_j (dp_j - D) k_j with dp_j = dO · v_j and D = Σ_j p_j dp_j: a first sweep finds
 * the softmax's max, sum and D, a second accumulates (no stored statistics, so it binds no more
 * than the forward's inputs and dO).
 */
export function gradQKernel(s: QueryKernelSpec, dyInput: number): Kernel {
  const dh = s.L.dh;
  return build(s.inputs, s.output, ...rows(s), s.target, 'attention_grad_q', (mode) => [
    queryFrame(s),
    ownRow('g', dyInput, 'oo', dh),
    'var m = -3.0e38f;\n  var l = 0.0f;\n  var cs = 0.0f;',
    keyLoops(s, mode, true, `let dp = ${dot('g', 'v', dh)};
    if (vis && s > m) { let c = exp(m - s); l = l * c; cs = cs * c; m = s; }
    let e = select(0.0f, exp(s - m), vis);
    l = l + e;
    cs = cs + e * dp;`),
    `let inv = 1.0f / l;\n  let dd = cs * inv;\n  ${zeros('a', dh)}`,
    keyLoops(s, mode, true, `let ds = select(0.0f, exp(s - m) * inv, vis) * (${dot('g', 'v', dh)} - dd);
    ${each(dh, (d) => `a${d} = a${d} + ds * k${d};`)}`),
    `if (live) {\n  ${storeRow('a', 'qo', dh, f32(s.scale))}\n  }`,
  ].join('\n  '));
}

// ---- per key row: dk, dv (and the prefix's, summed over the batch when it is shared) -----------

export interface KeyKernelSpec {
  readonly L: AttentionLayout;
  /** keys = input 1, values = input 2 when wrt 'k'; its mask column, if masked. */
  readonly block: KeyBlock;
  readonly wrt: 'k' | 'v';
  readonly maskInput?: number;
  readonly dyInput: number;
  readonly statsInput: number;
  readonly scale: number;
  readonly inputs: readonly TensorType[];
  readonly output: TensorType;
  readonly target: KernelTarget;
}

/**
 * For key j: dv_j = Σ_i p_ij dO_i, dk_j = scale Σ_i p_ij (dO_i·v_j - D_i) q_i, over the queries
 * of its batch (of every batch when the block is shared), p_ij = exp(s_ij - lse_i).
 */
export function gradKVKernel(s: KeyKernelSpec): Kernel {
  const { L, block: blk } = s;
  const dh = L.dh;
  const batches = blk.shared ? `${loop('b', L.B, 0)} {` : '{\n    let b = bb;';
  const mrow = L.mask && s.maskInput !== undefined ? `let mrow = ${maskRow(L.mask, 'b', 'h', 'qi')};` : '';
  const stats = (mode: Mode): string => (mode === 'plain'
    ? `let lse = in${s.statsInput}[qr * 2u];\n      let dd = in${s.statsInput}[qr * 2u + 1u];`
    : `let st = in${s.statsInput}[qr * 2u + min(sg, 1u)];\n      let lse = subgroupBroadcast(st, 0u);\n      let dd = subgroupBroadcast(st, 1u);`);
  const update = s.wrt === 'v'
    ? each(dh, (d) => `a${d} = a${d} + p * g${d};`)
    : `let ds = p * (${dot('g', 'v', dh)} - dd);
      ${each(dh, (d) => `a${d} = a${d} + ds * q${d};`)}`;
  const pairs = (blk.shared ? 1 : L.B) * L.H;
  // Causal: query i reaches key j only if i >= j - c; the group starts at its first key's first query.
  const c = blk.causal;
  const qFrom = c === undefined ? '0u' : `select(0u, li_first - ${c}u, li_first > ${c}u)`;
  const vis = c === undefined ? 'true' : `qi + ${c}u >= j`;
  return build(s.inputs, s.output, pairs, blk.n, s.target, `attention_grad_${s.wrt}`, (mode) => [
    `let j = li;\n  let h = bh % ${L.H}u;\n  let bb = bh / ${L.H}u;\n  let ko = ${rowAt(blk.strides, 'bb', 'h', 'j')};\n  let go = ${rowAt(blk.out ?? blk.strides, 'bb', 'h', 'j')};`,
    ownRow('k', 1, plus('ko', blk.kCol), dh, f32(s.scale)),
    s.wrt === 'k' ? ownRow('v', 2, plus('ko', blk.vCol), dh) : '',
    zeros('a', dh),
    `${batches}
    ${loop('qi', L.S, 0, qFrom)} {
      let qr = (b * ${L.H}u + h) * ${L.S}u + qi;
      let qo = ${rowAt(L.q, 'b', 'h', 'qi')};
      let oo = ${rowAt(L.o, 'b', 'h', 'qi')};
      ${mrow}
      ${sharedRow(mode, 'q', 0, 'qo', dh)}
      ${sharedRow(mode, 'g', s.dyInput, 'oo', dh)}
      ${stats(mode)}
      let p = select(0.0f, exp(${dot('k', 'q', dh)}${maskTerm(blk, s.maskInput, 'mrow', 'j')} - lse), ${vis});
      ${update}
    }
  }`,
    `if (live) {\n  ${storeRow('a', 'go', dh, s.wrt === 'k' ? f32(s.scale) : '1.0f')}\n  }`,
  ].filter(Boolean).join('\n  '));
}
