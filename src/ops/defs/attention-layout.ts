// Shapes shared by the fused attention ops (attention.ts, attention-grad.ts) and their kernels
// (attention-kernels.ts): the checked layout of q, k, v, an optional prefix kp, vp read in front
// of the keys (batch 1 is broadcast inside the kernel, never copied) and an optional additive
// mask, and the "key blocks" every kernel and reference loops over.

import * as t from 'io-ts';
import { formatShape, formatType, ShapeError, type TensorType } from '../../graph/index.js';

/**
 * `prefix`: inputs 3 and 4 are kp, vp [Bp,H,P,dh] (Bp 1 or B); `masked`: the last input is an
 * additive mask broadcastable to [B,H,S,W] with W = P+T (covers the prefix keys) or W = T (the
 * prefix keys are always visible); `causal`: query i sees sequence key j only if
 * j <= i + (T - S) (the queries are the last T positions, as `causal_mask`; needs T >= S), and
 * kernels skip the keys it hides.
 */
export const AttentionAttrs = t.intersection([
  t.type({ scale: t.number, prefix: t.boolean, masked: t.boolean }),
  t.partial({ causal: t.boolean }),
]);
export type AttentionAttrs = t.TypeOf<typeof AttentionAttrs>;

/** Where the mask element of (b, h, query i) lives: b*sb + h*sh + i*si + column; 0 strides broadcast. */
export interface MaskLayout {
  readonly width: number;
  readonly strides: readonly [number, number, number];
}

/** A run of keys (and values) laid out [Bk,H,n,dh]; `shared`: Bk = 1 read by every batch. */
export interface KeyBlock {
  /** Input indices of the keys and (when the kernel reads them) the values. */
  readonly keys: number;
  readonly values?: number;
  readonly n: number;
  readonly shared: boolean;
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
}

function checkF32(op: string, what: string, x: TensorType | undefined): TensorType {
  if (!x) throw new ShapeError(`${op}: missing input ${what}`);
  if (x.dtype !== 'f32') throw new ShapeError(`${op} ${what} must be f32, got ${formatType(x)}`);
  return x;
}

/** q [B,H,S,dh]: the query layout every attention op shares. */
export function checkQuery(op: string, q: TensorType | undefined): { B: number; H: number; S: number; dh: number } {
  const x = checkF32(op, 'q', q);
  if (x.shape.length !== 4 || x.shape[3] < 1) throw new ShapeError(`${op} q must be [B,H,S,dh] with dh >= 1, got ${formatShape(x.shape)}`);
  const [B, H, S, dh] = x.shape;
  return { B, H, S, dh };
}

/** A key or value block [Bk,H,n,dh] with Bk = B (or 1 when `sharedOk`); returns n and whether Bk = 1 < B. */
export function checkBlock(op: string, what: string, x: TensorType | undefined, q: { B: number; H: number; dh: number }, sharedOk: boolean): { n: number; Bk: number } {
  const y = checkF32(op, what, x);
  const [Bk, H, n, dh] = y.shape;
  const batchOk = Bk === q.B || (sharedOk && Bk === 1);
  if (y.shape.length !== 4 || !batchOk || H !== q.H || dh !== q.dh) {
    const want = sharedOk ? `[${q.B === 1 ? '1' : `1 or ${q.B}`},${q.H},n,${q.dh}]` : `[${q.B},${q.H},n,${q.dh}]`;
    throw new ShapeError(`${op} ${what} must be ${want} (batch, heads and head size of q), got ${formatShape(y.shape)}`);
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
  const q = checkQuery(op, inputs[0]);
  const { n: T } = checkBlock(op, 'k', inputs[1], q, false);
  const { n: Tv } = checkBlock(op, 'v', inputs[2], q, false);
  if (Tv !== T) throw new ShapeError(`${op} v has ${Tv} positions but k has ${T}`);
  let P = 0, Bp = q.B;
  if (a.prefix) {
    const kp = checkBlock(op, 'kp', inputs[3], q, true);
    const vp = checkBlock(op, 'vp', inputs[4], q, true);
    if (kp.n !== vp.n || kp.Bk !== vp.Bk) throw new ShapeError(`${op} vp ${formatShape(inputs[4].shape)} must have the shape of kp ${formatShape(inputs[3].shape)}`);
    if (kp.n < 1) throw new ShapeError(`${op} kp must hold at least one prefix position, got ${formatShape(inputs[3].shape)}`);
    [P, Bp] = [kp.n, kp.Bk];
  }
  if (T + P < 1) throw new ShapeError(`${op} needs at least one key, got k ${formatShape(inputs[1].shape)}`);
  if (a.causal && T < q.S) throw new ShapeError(`${op} causal attention needs at least as many keys as queries, got k ${formatShape(inputs[1].shape)} for q ${formatShape(inputs[0].shape)}`);
  const mask = a.masked ? checkMask(op, inputs[inputs.length - 1], q, (w) => w === P + T || w === T, P ? `= ${P + T} (prefix and sequence keys) or ${T} (sequence keys; the prefix is visible)` : `= ${T}`) : undefined;
  return { ...q, T, P, Bp, mask, causal: a.causal === true };
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
    blocks.push({ keys: at.kp, values: at.vp, n: L.P, shared: L.Bp === 1 && L.B > 1, maskCol: coversPrefix ? 0 : undefined });
  }
  blocks.push({ keys: at.k, values: at.v, n: L.T, shared: false, maskCol: L.mask ? L.mask.width - L.T : undefined, causal: L.causal ? L.T - L.S : undefined });
  return blocks;
}
