// Shapes shared by the fused attention ops (attention.ts, attention-grad.ts) and their kernels
// (attention-kernels.ts): the checked layout of q, k, v, an optional prefix kp, vp read in front
// of the keys (batch 1 is broadcast inside the kernel, never copied) and an optional additive
// mask, and the "key blocks" every kernel and reference loops over.

import * as t from 'io-ts';
import { formatShape, formatType, ShapeError, type TensorType } from '../../graph/index.js';

/**
 * `prefix`: inputs 3 and 4 are kp, vp [Bp,H,P,dh] (Bp 1 or B; or [P,W] read at columns, see
 * PrefixAttrs); `masked`: the last input is an
 * additive mask broadcastable to [B,H,S,W] with W = P+T (covers the prefix keys) or W = T (the
 * prefix keys are always visible); `causal`: query i sees sequence key j only if
 * j <= i + (T - S) (the queries are the last T positions, as `causal_mask`; needs T >= S), and
 * kernels skip the keys it hides.
 */
export const HeadLayout = t.keyof({ bhsd: null, bshd: null });
/**
 * 'bhsd' [B,H,S,dh] (the default) or 'bshd' [B,S,H,dh], the "heads-inner" layout the
 * projections produce, read and written with strides so no permute copies it.
 */
export type HeadLayout = t.TypeOf<typeof HeadLayout>;

/**
 * Layouts of q (and dq), of the sequence's k and v (and dk, dv; the prefix is always 'bhsd') and
 * of the output (and its cotangent dO); absent means 'bhsd'.
 */
export const LayoutAttrs = t.partial({ qLayout: HeadLayout, kvLayout: HeadLayout, outLayout: HeadLayout });
export type LayoutAttrs = t.TypeOf<typeof LayoutAttrs>;

/**
 * 'bhpd' (the default): kp, vp are [1 or B,H,P,dh]. 'pc' ("prompt columns"): kp, vp are one
 * [P,W] tensor (or two of the same shape), shared over the batch, whose columns kpColumn ..
 * kpColumn + H*dh hold the keys (head h at kpColumn + h*dh) and vpColumn .. the values: the
 * prefix-tuning prompt [P, L*2*D] read in place of its per-layer slice/permute copies.
 */
export const PrefixLayout = t.keyof({ bhpd: null, pc: null });
export const PrefixAttrs = t.partial({ prefixLayout: PrefixLayout, kpColumn: t.Int, vpColumn: t.Int });
export type PrefixAttrs = t.TypeOf<typeof PrefixAttrs>;

export const AttentionAttrs = t.intersection([
  t.type({ scale: t.number, prefix: t.boolean, masked: t.boolean }),
  t.partial({ causal: t.boolean }),
  LayoutAttrs,
  PrefixAttrs,
]);
export type AttentionAttrs = t.TypeOf<typeof AttentionAttrs>;

/** Where the mask element of (b, h, query i) lives: b*sb + h*sh + i*si + column; 0 strides broadcast. */
export interface MaskLayout {
  readonly width: number;
  readonly strides: readonly [number, number, number];
}

/** Element (b, h, row i, d) of a head tensor lives at b*b + h*h + i*i + d (b = 0: batch broadcast). */
export interface Strides {
  readonly b: number;
  readonly h: number;
  readonly i: number;
}

/** The shape of a head tensor with `n` rows per head in `layout`. */
export const headShape = (layout: HeadLayout | undefined, B: number, H: number, n: number, dh: number): number[] => (layout === 'bshd' ? [B, n, H, dh] : [B, H, n, dh]);

/** Strides of a head tensor with `n` rows per head in `layout`; `shared`: batch 1 read by every batch. */
export function headStrides(layout: HeadLayout | undefined, H: number, n: number, dh: number, shared = false): Strides {
  const s = layout === 'bshd' ? { b: n * H * dh, h: dh, i: H * dh } : { b: H * n * dh, h: n * dh, i: dh };
  return shared ? { ...s, b: 0 } : s;
}

/** A run of keys (and values) [Bk,H,n,dh] or [Bk,n,H,dh]; `shared`: Bk = 1 read by every batch. */
export interface KeyBlock {
  /** Input indices of the keys and (when the kernel reads them) the values. */
  readonly keys: number;
  readonly values?: number;
  readonly n: number;
  readonly shared: boolean;
  /** Where its rows live (keys and values share them). */
  readonly strides: Strides;
  /** Column offsets added to the keys' and the values' row offsets (a 'pc' prefix); absent: 0. */
  readonly kCol?: number;
  readonly vCol?: number;
  /** Where a key-side backward kernel writes the block's gradient rows; absent: `strides`. */
  readonly out?: Strides;
  /** Mask column of this block's key 0; absent: the block's scores get no mask term. */
  readonly maskCol?: number;
  /** Causal offset c: query i sees key j of this block only if j <= i + c. Absent: every key. */
  readonly causal?: number;
}

export interface AttentionLayout {
  readonly B: number;
  readonly H: number;
  readonly S: number;
  readonly T: number;
  readonly dh: number;
  /** Prefix length and batch (0 and B without a prefix). */
  readonly P: number;
  readonly Bp: number;
  readonly mask?: MaskLayout;
  /** Whether the sequence keys are causal (see AttentionAttrs). */
  readonly causal?: boolean;
  /** Where the rows of q (and dq) and of the output (and dO) live. */
  readonly q: Strides;
  readonly o: Strides;
  /** The sequence keys' (and values') layout. */
  readonly kvLayout?: HeadLayout;
  /** A 'pc' prefix: the [P,W] tensors' width and the keys' and values' first columns. */
  readonly prefixCols?: PrefixColumns;
}

export interface PrefixColumns {
  readonly W: number;
  readonly k: number;
  readonly v: number;
}

/** Strides of a 'pc' block of [P,W]: row i at i*W, head h at h*dh, shared over the batch. */
export const columnStrides = (W: number, dh: number): Strides => ({ b: 0, h: dh, i: W });

/**
 * Keys [P,W] whose columns `kCol` .. kCol + H*dh exist (and values of the same shape, `vCol`
 * likewise, when given): a 'pc' block. Returns P and W.
 */
export function checkColumns(op: string, q: { H: number; dh: number }, keys: [string, TensorType | undefined, number | undefined], values?: [string, TensorType | undefined, number | undefined]): { P: number; W: number } {
  const D = q.H * q.dh;
  const one = ([what, x, col]: [string, TensorType | undefined, number | undefined]): { P: number; W: number } => {
    const y = checkF32(op, what, x);
    if (y.shape.length !== 2 || y.shape[0] < 1) throw new ShapeError(`${op} ${what} must be [P,W] with P >= 1 (prefixLayout pc), got ${formatShape(y.shape)}`);
    const [P, W] = y.shape;
    const name = `${what}Column`;
    if (col === undefined || !Number.isInteger(col) || col < 0 || col + D > W) throw new ShapeError(`${op} ${name} must be an integer in [0, ${W - D}] (${what} ${formatShape(y.shape)} holds H*dh = ${D} columns from it; prefixLayout pc), got ${col}`);
    return { P, W };
  };
  const k = one(keys);
  if (values) {
    const v = one(values);
    if (v.P !== k.P || v.W !== k.W) throw new ShapeError(`${op} ${values[0]} ${formatShape(values[1]!.shape)} must have the shape of ${keys[0]} ${formatShape(keys[1]!.shape)} (prefixLayout pc)`);
  }
  return k;
}

function checkF32(op: string, what: string, x: TensorType | undefined): TensorType {
  if (!x) throw new ShapeError(`${op}: missing input ${what}`);
  if (x.dtype !== 'f32') throw new ShapeError(`${op} ${what} must be f32, got ${formatType(x)}`);
  return x;
}

/** q [B,H,S,dh] (or [B,S,H,dh] in layout 'bshd'): the query layout every attention op shares. */
export function checkQuery(op: string, q: TensorType | undefined, layout?: HeadLayout): { B: number; H: number; S: number; dh: number } {
  const x = checkF32(op, 'q', q);
  const bshd = layout === 'bshd';
  if (x.shape.length !== 4 || x.shape[3] < 1) throw new ShapeError(`${op} q must be ${bshd ? '[B,S,H,dh]' : '[B,H,S,dh]'} with dh >= 1 (qLayout ${layout ?? 'bhsd'}), got ${formatShape(x.shape)}`);
  const [B, a, c, dh] = x.shape;
  return bshd ? { B, H: c, S: a, dh } : { B, H: a, S: c, dh };
}

/**
 * A key or value block [Bk,H,n,dh] ([Bk,n,H,dh] in layout 'bshd') with Bk = B (or 1 when
 * `sharedOk`); returns n and Bk.
 */
export function checkBlock(op: string, what: string, x: TensorType | undefined, q: { B: number; H: number; dh: number }, sharedOk: boolean, layout?: HeadLayout): { n: number; Bk: number } {
  const y = checkF32(op, what, x);
  const bshd = layout === 'bshd';
  const [Bk, a, c, dh] = y.shape;
  const [H, n] = bshd ? [c, a] : [a, c];
  const batchOk = Bk === q.B || (sharedOk && Bk === 1);
  if (y.shape.length !== 4 || !batchOk || H !== q.H || dh !== q.dh) {
    const batch = sharedOk ? (q.B === 1 ? '1' : `1 or ${q.B}`) : `${q.B}`;
    const want = bshd ? `[${batch},n,${q.H},${q.dh}]` : `[${batch},${q.H},n,${q.dh}]`;
    throw new ShapeError(`${op} ${what} must be ${want} (batch, heads and head size of q; layout ${layout ?? 'bhsd'}), got ${formatShape(y.shape)}`);
  }
  return { n, Bk };
}

/** An additive mask broadcastable to [B,H,S,W], W accepted by `widthOk` (described by `widths`). */
export function checkMask(op: string, m: TensorType | undefined, q: { B: number; H: number; S: number }, widthOk: (w: number) => boolean, widths: string): MaskLayout {
  const x = checkF32(op, 'mask', m);
  const r = x.shape.length;
  const full = [1, 1, 1, 1].map((one, k) => (k - (4 - r) >= 0 ? x.shape[k - (4 - r)] : one));
  const lead = [q.B, q.H, q.S];
  const W = full[3];
  if (r < 1 || r > 4 || lead.some((d, k) => full[k] !== 1 && full[k] !== d) || !widthOk(W)) {
    throw new ShapeError(`${op} mask ${formatShape(x.shape)} must broadcast to [${lead.join(',')},W] with W ${widths} (the keys it covers)`);
  }
  const [, mh, ms] = full;
  const strides = [mh * ms * W, ms * W, W].map((s, k) => (full[k] === 1 ? 0 : s)) as [number, number, number];
  return { width: W, strides };
}

/** Inputs of the forward op: q, k, v, [kp, vp], [mask]. */
export function forwardLayout(op: string, inputs: readonly TensorType[], a: AttentionAttrs): AttentionLayout {
  const want = 3 + (a.prefix ? 2 : 0) + (a.masked ? 1 : 0);
  if (inputs.length !== want) {
    throw new ShapeError(`${op} takes q, k, v${a.prefix ? ', kp, vp' : ''}${a.masked ? ', mask' : ''} (${want} inputs) for prefix=${a.prefix} masked=${a.masked}, got ${inputs.length}`);
  }
  const q = checkQuery(op, inputs[0], a.qLayout);
  const { n: T } = checkBlock(op, 'k', inputs[1], q, false, a.kvLayout);
  const { n: Tv } = checkBlock(op, 'v', inputs[2], q, false, a.kvLayout);
  if (Tv !== T) throw new ShapeError(`${op} v has ${Tv} positions but k has ${T}`);
  let P = 0, Bp = q.B;
  let prefixCols: PrefixColumns | undefined;
  if (a.prefix && a.prefixLayout === 'pc') {
    const pc = checkColumns(op, q, ['kp', inputs[3], a.kpColumn], ['vp', inputs[4], a.vpColumn]);
    [P, Bp] = [pc.P, 1];
    prefixCols = { W: pc.W, k: a.kpColumn!, v: a.vpColumn! };
  } else if (a.prefix) {
    const kp = checkBlock(op, 'kp', inputs[3], q, true);
    const vp = checkBlock(op, 'vp', inputs[4], q, true);
    if (kp.n !== vp.n || kp.Bk !== vp.Bk) throw new ShapeError(`${op} vp ${formatShape(inputs[4].shape)} must have the shape of kp ${formatShape(inputs[3].shape)}`);
    if (kp.n < 1) throw new ShapeError(`${op} kp must hold at least one prefix position, got ${formatShape(inputs[3].shape)}`);
    [P, Bp] = [kp.n, kp.Bk];
  }
  if (T + P < 1) throw new ShapeError(`${op} needs at least one key, got k ${formatShape(inputs[1].shape)}`);
  if (a.causal && T < q.S) throw new ShapeError(`${op} causal attention needs at least as many keys as queries, got k ${formatShape(inputs[1].shape)} for q ${formatShape(inputs[0].shape)}`);
  const mask = a.masked ? checkMask(op, inputs[inputs.length - 1], q, (w) => w === P + T || w === T, P ? `= ${P + T} (prefix and sequence keys) or ${T} (sequence keys; the prefix is visible)` : `= ${T}`) : undefined;
  return { ...q, T, P, Bp, mask, causal: a.causal === true, ...layoutStrides(q, a), kvLayout: a.kvLayout, prefixCols };
}

/** Strides of q and of the output for the query dimensions `q` and the layout attributes. */
export function layoutStrides(q: { H: number; S: number; dh: number }, a: LayoutAttrs): { q: Strides; o: Strides } {
  return { q: headStrides(a.qLayout, q.H, q.S, q.dh), o: headStrides(a.outLayout, q.H, q.S, q.dh) };
}

/** Input indices of the keys and values an op reads (values absent where its kernel needs none). */
export interface BlockInputs {
  readonly k: number;
  readonly v?: number;
  readonly kp?: number;
  readonly vp?: number;
}

/** The forward's key blocks: the prefix (if any) then the sequence, with their mask columns. */
export function forwardBlocks(L: AttentionLayout, at: BlockInputs): KeyBlock[] {
  const coversPrefix = L.mask !== undefined && L.mask.width === L.P + L.T && L.P > 0;
  const blocks: KeyBlock[] = [];
  if (L.P > 0) {
    if (at.kp === undefined) throw new ShapeError('attention: a prefix block needs its keys input');
    const shared = L.Bp === 1 && L.B > 1;
    const maskCol = coversPrefix ? 0 : undefined;
    const pc = L.prefixCols;
    blocks.push(pc
      ? { keys: at.kp, values: at.vp, n: L.P, shared, strides: columnStrides(pc.W, L.dh), kCol: pc.k, vCol: pc.v, maskCol }
      : { keys: at.kp, values: at.vp, n: L.P, shared, strides: headStrides('bhsd', L.H, L.P, L.dh, shared), maskCol });
  }
  blocks.push({ keys: at.k, values: at.v, n: L.T, shared: false, strides: headStrides(L.kvLayout, L.H, L.T, L.dh), maskCol: L.mask ? L.mask.width - L.T : undefined, causal: L.causal ? L.T - L.S : undefined });
  return blocks;
}
