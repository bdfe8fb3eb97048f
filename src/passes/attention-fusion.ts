// fuse-attention: replaces  matmul(softmax(scale(matmul(Q, K, transB)), mask), V)  by one
// `attention` node (src/ops/defs/attention.ts), before autodiff, so the backward is the fused
// op's own (no score or probability matrix is stored, forward or backward). A key/value prefix
// K = concat([broadcast_to(KP), Kseq], 2) (prefix-tuning, P-tuning v2, a decode step's cache) is
// read in place: the node takes KP before its broadcast, and a mask padded in front for it,
// pad(M, 3, P, 0), as M. Fuses only when the scores, probabilities and first product have no
// other reader and are not outputs (nothing computed is lost), shapes are plain [B,H,·,dh] f32,
// and the mask depends on no trainable parameter (the fused op gives masks no gradient).
// The head permutes around it (q, k, v = permute(x [B,S,H,dh], [0,2,1,3]), the output's only
// reader permute(o, [0,2,1,3])) are absorbed: the node reads and writes the heads-inner layout
// [B,S,H,dh] itself (attrs qLayout, kvLayout, outLayout), so neither pass nor autodiff copies.
// A prefix cut from a 2-D prompt (deep-prompt.ts: reshape(permute(reshape(slice(X, 1, c, c+H*dh),
// [P,H,dh]), [1,0,2]), [1,H,P,dh])) is read from X itself at column c (prefixLayout 'pc').

import { sameShape, type AttrValue, type Graph, type Node } from '../graph/index.js';
import { normalizeAxis, sliceRange } from '../ops/index.js';
import { dependents } from './autodiff.js';
import type { Pass } from './pass.js';

/** Keys or values split into an in-place prefix (if any) and the sequence's own. */
interface Split {
  readonly seq: number;
  readonly prefix?: number;
  /** The prefix is columns column.. of the 2-D `prefix` (prefixLayout 'pc'). */
  readonly column?: number;
}

export const attentionFusionPass: Pass = {
  name: 'fuse-attention',
  description: 'fuse matmul -> scale -> softmax -> matmul attention (and a concatenated key/value prefix, read in place or at its columns of a 2-D prompt, and the head permutes around it) into one attention op',
  requires: ['frozen'],
  ensures: [],
  run(graph: Graph, ctx) {
    const trainable = graph.params().filter((p) => p.attrs.trainable === true).map((p) => p.id);
    const trained = dependents(graph, trainable);
    const g = graph.clone();
    let fused = 0, prefixed = 0, absorbed = 0;
    for (const out of [...g.nodes]) {
      const m = g.has(out.id) ? match(g, out, trained) : undefined;
      if (!m) continue;
      const inputs = [m.q, m.k.seq, m.v.seq, ...(m.k.prefix !== undefined ? [m.k.prefix, m.v.prefix!] : []), ...(m.mask !== undefined ? [m.mask] : [])];
      const columns: Record<string, AttrValue> = m.k.column !== undefined ? { prefixLayout: 'pc', kpColumn: m.k.column, vpColumn: m.v.column! } : {};
      const attrs = { scale: m.scale, prefix: m.k.prefix !== undefined, masked: m.mask !== undefined, ...(m.causal ? { causal: true } : {}), ...columns };
      const node = g.add({ op: 'attention', inputs, attrs, type: out.type, scope: out.scope }, { before: out.id });
      g.replaceAllUses(out.id, node.id);
      for (const id of [out.id, ...m.chain]) g.remove(id);
      removeUnused(g, m.copies);
      absorbed += absorbPermutes(g, node);
      fused++;
      if (attrs.prefix) prefixed++;
    }
    if (fused) ctx.notes.push(`fuse-attention: ${fused} attention block(s) into one kernel each${prefixed ? `, ${prefixed} reading a key/value prefix in place` : ''}${absorbed ? `, ${absorbed} head permute(s) absorbed` : ''}`);
    return { graph: g, changed: fused > 0 };
  },
};

interface Match {
  readonly q: number;
  readonly k: Split;
  readonly v: Split;
  readonly mask?: number;
  readonly causal: boolean;
  readonly scale: number;
  /** softmax, scale and the score matmul, consumers first: replaced by the node. */
  readonly chain: readonly number[];
  /** concat / broadcast_to / pad nodes the node reads around: removed if nothing else reads them. */
  readonly copies: readonly number[];
}

function match(g: Graph, out: Node, trained: ReadonlySet<number>): Match | undefined {
  if (out.op !== 'matmul' || out.attrs.transA !== false || out.attrs.transB !== false) return undefined;
  const outputs = new Set(g.outputs.values());
  const only = (n: Node): boolean => g.users(n.id).length === 1 && !outputs.has(n.id);
  const probs = g.node(out.inputs[0]);
  if (probs.op !== 'softmax' || !only(probs) || out.inputs[1] === probs.id) return undefined;
  let scores = g.node(probs.inputs[0]);
  let scale = 1;
  const chain = [probs.id];
  if (scores.op === 'scale') {
    if (!only(scores)) return undefined;
    scale = Number(scores.attrs.factor);
    chain.push(scores.id);
    scores = g.node(scores.inputs[0]);
  }
  if (scores.op !== 'matmul' || scores.attrs.transA !== false || scores.attrs.transB !== true || !only(scores)) return undefined;
  chain.push(scores.id);
  const [q, kFull] = scores.inputs.map((i) => g.node(i));
  const vFull = g.node(out.inputs[1]);
  const f32x4 = (n: Node): boolean => n.type.dtype === 'f32' && n.type.shape.length === 4;
  if (![q, kFull, vFull].every(f32x4) || !sameShape(kFull.type.shape, vFull.type.shape)) return undefined;
  const [B, H, , dh] = q.type.shape;
  if (kFull.type.shape[0] !== B || kFull.type.shape[1] !== H || kFull.type.shape[3] !== dh) return undefined;
  const copies: number[] = [];
  let k = splitPrefix(g, kFull, copies), v = splitPrefix(g, vFull, copies);
  const P = (s: Split): number => (s.prefix === undefined ? 0 : g.node(s.prefix).type.shape[2]);
  const Bp = (s: Split): number => (s.prefix === undefined ? 0 : g.node(s.prefix).type.shape[0]);
  if (P(k) !== P(v) || Bp(k) !== Bp(v) || !sameShape(g.node(k.seq).type.shape, g.node(v.seq).type.shape)) {
    [k, v] = [{ seq: kFull.id }, { seq: vFull.id }];
  }
  const T = g.node(k.seq).type.shape[2];
  let mask: number | undefined = probs.inputs[1];
  let causal = false;
  if (mask !== undefined) {
    if (trained.has(mask)) return undefined;
    const mn = g.node(mask);
    let padded = false;
    // A mask padded with P zeros in front of the keys is the unpadded one with the prefix visible.
    if (k.prefix !== undefined && mn.op === 'pad' && mn.type.shape.length >= 1 && normalizeAxis(Number(mn.attrs.axis), mn.type.shape.length) === mn.type.shape.length - 1
      && mn.attrs.before === P(k) && mn.attrs.after === 0) {
      copies.push(mn.id);
      mask = mn.inputs[0];
      padded = true;
    }
    const c = causalPart(g, g.node(mask), q.type.shape[2], T);
    if (c) {
      causal = true;
      copies.push(...c.nodes);
      mask = c.rest;
    }
    // Only a mask we unpadded covers just the sequence keys; any other one covers them all (one of
    // width 1 with T = 1 broadcast over the prefix too, so it must not be read as sequence-only).
    if (mask !== undefined && !maskFits(g.node(mask), [B, H, q.type.shape[2]], padded ? [T] : [T + P(k)])) return undefined;
  }
  // Both prefix blocks cut from 2-D tensors of one shape: read those in place.
  const kc = promptColumns(g, k), vc = promptColumns(g, v);
  if (kc && vc && sameShape(g.node(kc.tensor).type.shape, g.node(vc.tensor).type.shape)) {
    k = { seq: k.seq, prefix: kc.tensor, column: kc.column };
    v = { seq: v.seq, prefix: vc.tensor, column: vc.column };
    copies.push(...kc.chain, ...vc.chain);
  }
  return { q: q.id, k, v, mask, causal, scale, chain, copies: [...copies, kFull.id, vFull.id] };
}

/**
 * A batch-1 prefix [1,H,P,dh] = reshape(permute(reshape(slice(X [P,W], 1, c, c + H*dh), [P,H,dh]),
 * [1,0,2]), [1,H,P,dh]), each step (and the broadcast_to the split stripped, if any) read by
 * nothing else: X, c and the chain (removed once the node reads X).
 */
function promptColumns(g: Graph, s: Split): { tensor: number; column: number; chain: number[] } | undefined {
  if (s.prefix === undefined) return undefined;
  const outputs = new Set(g.outputs.values());
  const sole = (n: Node): boolean => g.users(n.id).length === 1 && !outputs.has(n.id);
  const pre = g.node(s.prefix);
  const reader = g.users(pre.id);
  if (!sole(pre) || (reader[0].op === 'broadcast_to' && !sole(reader[0]))) return undefined;
  const [one, H, P, dh] = pre.type.shape;
  if (pre.op !== 'reshape' || pre.type.shape.length !== 4 || one !== 1) return undefined;
  const perm = g.node(pre.inputs[0]);
  if (perm.op !== 'permute' || JSON.stringify(perm.attrs.perm) !== '[1,0,2]' || !sole(perm)) return undefined;
  const split = g.node(perm.inputs[0]);
  if (split.op !== 'reshape' || !sameShape(split.type.shape, [P, H, dh]) || !sole(split)) return undefined;
  const cut = g.node(split.inputs[0]);
  if (cut.op !== 'slice' || cut.type.shape.length !== 2 || normalizeAxis(Number(cut.attrs.axis), 2) !== 1 || !sole(cut)) return undefined;
  const x = g.node(cut.inputs[0]);
  if (x.type.dtype !== 'f32' || x.type.shape[0] !== P) return undefined;
  const [start, end] = sliceRange({ start: Number(cut.attrs.start), end: Number(cut.attrs.end) }, x.type.shape[1]);
  if (end - start !== H * dh) return undefined;
  return { tensor: x.id, column: start, chain: [pre.id, perm.id, split.id, cut.id] };
}

/** concat([X, seq], 2) with X [1 or B,H,P,dh] (read before its broadcast_to when it has one). */
function splitPrefix(g: Graph, n: Node, copies: number[]): Split {
  if (n.op !== 'concat' || n.inputs.length !== 2 || normalizeAxis(Number(n.attrs.axis), 4) !== 2) return { seq: n.id };
  let pre = g.node(n.inputs[0]);
  const [B, H, , dh] = n.type.shape;
  if (pre.op === 'broadcast_to') {
    const src = g.node(pre.inputs[0]);
    if (src.type.shape.length === 4 && src.type.shape[0] === 1 && src.type.shape[1] === H && src.type.shape[3] === dh && src.type.shape[2] === pre.type.shape[2]) {
      copies.push(pre.id);
      pre = src;
    }
  }
  const [pb, ph, P, pd] = pre.type.shape;
  if (pre.type.shape.length !== 4 || (pb !== 1 && pb !== B) || ph !== H || pd !== dh || P < 1) return { seq: n.id };
  return { seq: n.inputs[1], prefix: pre.id };
}

/**
 * A causal mask over the sequence keys, `causal_mask(S, T)` (T >= S) alone or added to another
 * mask: the kernels then skip the hidden keys instead of adding MASK_NEG to them (the same
 * probabilities, except in rows the other mask hides entirely, whose output is meaningless).
 */
function causalPart(g: Graph, m: Node, S: number, T: number): { rest?: number; nodes: number[] } | undefined {
  const isCausal = (n: Node): boolean => n.op === 'causal_mask' && n.attrs.queries === S && n.attrs.keys === T && T >= S;
  if (isCausal(m)) return { nodes: [m.id] };
  if (m.op !== 'add' || m.inputs.length !== 2) return undefined;
  const [a, b] = m.inputs.map((i) => g.node(i));
  if (isCausal(a) && b.id !== a.id) return { rest: b.id, nodes: [m.id, a.id] };
  if (isCausal(b)) return { rest: a.id, nodes: [m.id, b.id] };
  return undefined;
}

/** The mask broadcasts to [B,H,S,W] with W one of `widths`, as the attention op requires. */
function maskFits(m: Node, lead: readonly number[], widths: readonly number[]): boolean {
  const s = m.type.shape;
  if (m.type.dtype !== 'f32' || s.length < 1 || s.length > 4 || !widths.includes(s[s.length - 1])) return false;
  const full = [...Array(4 - s.length).fill(1), ...s];
  return lead.every((d, k) => full[k] === 1 || full[k] === d);
}

const isHeadSwap = (n: Node): boolean => n.op === 'permute' && n.type.shape.length === 4 && JSON.stringify(n.attrs.perm) === '[0,2,1,3]';

/**
 * Rewrites a fresh `attention` node to read q (input 0) and the sequence's k, v (inputs 1, 2)
 * from x [B,S,H,dh] where they are permute(x, [0,2,1,3]) read by nothing else, and to write
 * [B,S,H,dh] where its only reader is that permute of its output. Returns the permutes removed.
 */
function absorbPermutes(g: Graph, node: Node): number {
  const outputs = new Set(g.outputs.values());
  // A permute only this node reads (k and v may be the same one), so it can go.
  const absorbable = (i: number): boolean => {
    const p = g.node(node.inputs[i]);
    return isHeadSwap(p) && !outputs.has(p.id) && g.users(p.id).every((u) => u.id === node.id);
  };
  const inputs = [...node.inputs];
  const attrs: Record<string, AttrValue> = { ...node.attrs };
  const swapped = new Set<number>();
  const absorb = (positions: number[], attr: string): void => {
    if (!positions.every(absorbable)) return;
    for (const i of positions) {
      swapped.add(inputs[i]);
      inputs[i] = g.node(inputs[i]).inputs[0];
    }
    attrs[attr] = 'bshd';
  };
  absorb([0], 'qLayout');
  absorb([1, 2], 'kvLayout');
  const readers = g.users(node.id);
  const outPerm = readers.length === 1 && isHeadSwap(readers[0]) && !outputs.has(node.id) ? readers[0] : undefined;
  if (outPerm) attrs.outLayout = 'bshd';
  if (!swapped.size && !outPerm) return 0;
  const at = outPerm ?? node;
  const fresh = g.add({ op: 'attention', inputs, attrs, type: at.type, scope: node.scope }, { before: node.id });
  g.replaceAllUses(at.id, fresh.id);
  if (outPerm) g.remove(outPerm.id);
  g.remove(node.id);
  removeUnused(g, [...swapped]);
  return swapped.size + (outPerm ? 1 : 0);
}

/** Removes `ids` (and then their inputs among them) once nothing reads them. */
function removeUnused(g: Graph, ids: readonly number[]): void {
  const outputs = new Set(g.outputs.values());
  let again = true;
  while (again) {
    again = false;
    for (const id of ids) {
      if (g.has(id) && g.users(id).length === 0 && !outputs.has(id)) {
        g.remove(id);
        again = true;
      }
    }
  }
}
