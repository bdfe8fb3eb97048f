// The fused attention op and its backward ops: WGSL (both target variants) against the float64
// reference on odd shapes (S != T, dh not a multiple of 4, with and without a prefix of batch 1
// or B, masks covering the prefix or not, causal), gradients against finite differences, and the
// fuse-attention pass (tiny GPT-2 and BERT, with and without prefix-tuning) against the unfused
// program: same loss and gradients, fewer kernels. The heads-inner layouts (qLayout, kvLayout,
// outLayout 'bshd') are checked the same way, and the pass absorbs the head permutes into them.

import { expect } from 'chai';
import {
  applySpec, compile, CpuExecutor, GpuExecutor, GraphBuilder, hostTensor, MASK_NEG, randomTensor, getOp,
  type Feeds, type Graph, type HostTensor, type KernelTarget, type MethodResult, type Ref, type TensorType,
} from '../src/index.js';
import { appendBackward } from '../src/passes/autodiff.js';
import { checkAgainstReference, expectClose } from './helpers.js';
import { checkGradients } from './gradcheck.js';
import { backbone, batch, paramsFor } from './methods-harness.js';
import { gpu } from './setup.js';

interface Case {
  name: string;
  B: number; H: number; S: number; T: number; dh: number;
  /** Prefix length (0: none) and batch. */
  P: number; Bp: number;
  /** Mask shape (absent: unmasked) and its value at (query i, mask column c). */
  mask?: number[];
  maskAt?: (i: number, c: number, b: number) => number;
  /** Sequence keys hidden causally (attrs.causal) on top of the mask. */
  causal?: boolean;
}

const causal = (S: number, W: number) => (i: number, c: number): number => (c <= i + (W - S) ? 0 : MASK_NEG);

const CASES: Case[] = [
  // Key 0 stays visible for every query, so no row is fully masked (f32 and f64 differ there).
  { name: 'no prefix, S != T, random mask [B,1,S,T], dh 6', B: 2, H: 3, S: 5, T: 7, dh: 6, P: 0, Bp: 0, mask: [2, 1, 5, 7], maskAt: (i, c, b) => (c > 0 && (i * 7 + c * 3 + b) % 4 === 0 ? MASK_NEG : 0) },
  { name: 'prefix of batch 1, causal mask [B,1,S,P+T] covering it, dh 5', B: 2, H: 2, S: 4, T: 4, dh: 5, P: 3, Bp: 1, mask: [2, 1, 4, 7], maskAt: causal(4, 7) },
  { name: 'prefix of batch B, padding mask [B,1,1,T] (prefix visible), dh 8', B: 2, H: 2, S: 3, T: 6, dh: 8, P: 2, Bp: 2, mask: [2, 1, 1, 6], maskAt: (_i, c, b) => (b === 1 && c >= 4 ? MASK_NEG : 0) },
  { name: 'no mask, one head, dh 3, S < T', B: 1, H: 1, S: 3, T: 9, dh: 3, P: 0, Bp: 0 },
  { name: 'batch 1 with a prefix, mask [S,P+T] broadcast over batch and heads, dh 4', B: 1, H: 2, S: 5, T: 5, dh: 4, P: 4, Bp: 1, mask: [5, 9], maskAt: causal(5, 9) },
  { name: 'causal attr, no prefix, no mask, dh 5', B: 2, H: 2, S: 6, T: 6, dh: 5, P: 0, Bp: 0, causal: true },
  { name: 'causal attr, prefix of batch 1, padding mask [B,1,1,T] (GPT-2 prefix-tuning), dh 6', B: 2, H: 2, S: 5, T: 5, dh: 6, P: 2, Bp: 1, mask: [2, 1, 1, 5], maskAt: (_i, c, b) => (b === 1 && c >= 4 ? MASK_NEG : 0), causal: true },
  { name: 'causal attr, T > S over several lane groups, prefix of batch B, mask [B,1,S,P+T], dh 4', B: 2, H: 1, S: 9, T: 11, dh: 4, P: 2, Bp: 2, mask: [2, 1, 9, 13], maskAt: (i, c, b) => (c > 0 && (i + c + b) % 5 === 0 ? MASK_NEG : 0), causal: true },
  { name: 'causal mask tensor, prefix of batch 1, three batches, dh 7', B: 3, H: 1, S: 6, T: 6, dh: 7, P: 1, Bp: 1, mask: [1, 1, 6, 7], maskAt: causal(6, 7) },
];

function maskTensor(c: Case): HostTensor | undefined {
  if (!c.mask || !c.maskAt) return undefined;
  const shape = c.mask;
  const W = shape[shape.length - 1];
  const rows = shape.length >= 2 ? shape[shape.length - 2] : 1;
  const data = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, k) => {
    const col = k % W, i = Math.floor(k / W) % rows, b = Math.floor(k / (W * rows * (shape.length === 4 ? shape[1] : 1)));
    return c.maskAt!(i, col, shape.length === 4 && shape[0] > 1 ? b : 0);
  });
  return hostTensor(shape, 'f32', data);
}

function feedsOf(c: Case, seed: number): Record<string, HostTensor> {
  const f: Record<string, HostTensor> = {
    q: randomTensor([c.B, c.H, c.S, c.dh], seed), k: randomTensor([c.B, c.H, c.T, c.dh], seed + 1), v: randomTensor([c.B, c.H, c.T, c.dh], seed + 2),
  };
  if (c.P) Object.assign(f, { kp: randomTensor([c.Bp, c.H, c.P, c.dh], seed + 3), vp: randomTensor([c.Bp, c.H, c.P, c.dh], seed + 4) });
  const m = maskTensor(c);
  if (m) f.mask = m;
  return f;
}

function attentionOf(b: GraphBuilder, c: Case, f: Record<string, HostTensor>): Ref {
  const inp = (n: string): Ref => b.input(n, f[n].shape);
  const prefix = c.P ? [inp('kp'), inp('vp')] : [];
  const mask = f.mask ? [inp('mask')] : [];
  return b.op('attention', [inp('q'), inp('k'), inp('v'), ...prefix, ...mask], { scale: 1 / Math.sqrt(c.dh), prefix: c.P > 0, masked: f.mask !== undefined, causal: c.causal === true });
}

/** The same attention unfused, from the existing ops (the oracle the reference must agree with). */
function unfusedOf(b: GraphBuilder, c: Case, f: Record<string, HostTensor>): Ref {
  const inp = (n: string): Ref => b.input(n, f[n].shape);
  const full = (seq: Ref, pre: string): Ref => (c.P ? b.concat([b.broadcastTo(inp(pre), [c.B, c.H, c.P, c.dh]), seq], 2) : seq);
  const k = full(inp('k'), 'kp'), v = full(inp('v'), 'vp');
  let mask = f.mask ? inp('mask') : undefined;
  if (mask && c.P && mask.type.shape[mask.type.shape.length - 1] === c.T) mask = b.pad(mask, mask.type.shape.length - 1, c.P, 0);
  if (c.causal) {
    const causal = c.P ? b.pad(b.causalMask(c.S, c.T), 1, c.P, 0) : b.causalMask(c.S, c.T);
    mask = mask ? b.add(mask, causal) : causal;
  }
  return b.matmul(b.softmax(b.scale(b.matmul(inp('q'), k, { transB: true }), 1 / Math.sqrt(c.dh)), mask), v);
}

const tol = { rel: 1e-5, abs: 2e-6 };

/**
 * The device's own target (on lavapipe with subgroups: rows shared through subgroupBroadcast),
 * lavapipe's without subgroups (every lane loads), and the hardware one (64-lane groups).
 */
const TARGETS: { name: string; target: Partial<KernelTarget> }[] = [
  { name: 'device', target: {} },
  { name: 'cpu without subgroups', target: { kind: 'cpu', subgroups: false } },
  { name: 'gpu', target: { kind: 'gpu' } },
];

describe('attention op: WGSL vs the float64 reference', () => {
  for (const c of CASES) {
    for (const { name, target } of TARGETS) {
      it(`${c.name} (${name} target)`, async () => {
        const f = feedsOf(c, 11);
        const { cpu } = await checkAgainstReference((b) => attentionOf(b, c, f), f, tol, undefined, target);
        const unfused = new GraphBuilder();
        unfused.output('y', unfusedOf(unfused, c, f));
        expectClose(new CpuExecutor('f32').runSync(unfused.graph, f, new Map()).get('y')!, cpu, tol, 'reference vs unfused ops');
      });
    }
  }

  it('backward ops on WebGPU vs the reference, each on its own', async () => {
    for (const c of [...CASES.slice(0, 3), ...CASES.filter((x) => x.causal)]) {
      const f = feedsOf(c, 23);
      const dy = randomTensor([c.B, c.H, c.S, c.dh], 99);
      for (const { target } of TARGETS) {
        await checkAgainstReference((b) => {
          const y = attentionOf(b, c, f);
          const g = b.input('dy', dy.shape);
          const ins = b.graph.node(y.id).inputs.map((i) => b.ref(i));
          const stats = b.op('attention_stats', [ins[0], ins[1], ...(c.P ? [ins[3]] : []), ...(f.mask ? [ins[ins.length - 1]] : []), g, y], b.graph.node(y.id).attrs as Record<string, number | boolean>);
          const dq = b.op('attention_grad_q', [...ins, g], b.graph.node(y.id).attrs as Record<string, number | boolean>);
          const mask = f.mask ? [ins[ins.length - 1]] : [];
          const off = f.mask ? f.mask.shape[f.mask.shape.length - 1] - c.T : 0;
          const kv = { scale: 1 / Math.sqrt(c.dh), masked: !!f.mask, maskOffset: off, causal: c.causal === true };
          const dk = b.op('attention_grad_kv', [ins[0], ins[1], ins[2], ...mask, g, stats], { ...kv, wrt: 'k' });
          const dv = b.op('attention_grad_kv', [ins[0], ins[1], ...mask, g, stats], { ...kv, wrt: 'v' });
          // One output: every result flattened and concatenated.
          return b.concat([stats, dq, dk, dv].map((x) => b.reshape(x, [-1])), 0);
        }, { ...f, dy }, { rel: 1e-4, abs: 1e-5 }, undefined, target);
      }
    }
  });
});

// ---- heads-inner layouts ('bshd': q, k, v, out [B,·,H,dh], read and written with strides) -------

type Layout = 'bhsd' | 'bshd';
interface Layouts { q: Layout; kv: Layout; out: Layout }
const LAYOUTS: Layouts[] = (['bhsd', 'bshd'] as const).flatMap((q) => (['bhsd', 'bshd'] as const).flatMap((kv) => (['bhsd', 'bshd'] as const).map((out) => ({ q, kv, out }))));
const ALL_BSHD: Layouts = { q: 'bshd', kv: 'bshd', out: 'bshd' };
const layoutName = (l: Layouts): string => `q ${l.q}, kv ${l.kv}, out ${l.out}`;
/** [B,H,n,dh] <-> [B,n,H,dh] where `l` is 'bshd' (the permute is its own inverse). */
const toLayout = (b: GraphBuilder, x: Ref, l: Layout): Ref => (l === 'bshd' ? b.permute(x, [0, 2, 1, 3]) : x);
const layoutAttrs = (l: Layouts): Record<string, string> => ({ qLayout: l.q, kvLayout: l.kv, outLayout: l.out });

/** The case's attention with q, k, v (and the output) in layouts `l`; the result back in [B,H,S,dh]. */
function attentionIn(b: GraphBuilder, c: Case, f: Record<string, HostTensor>, l: Layouts): { y: Ref; ins: Ref[]; attrs: Record<string, number | boolean | string> } {
  const inp = (n: string): Ref => b.input(n, f[n].shape);
  const ins = [toLayout(b, inp('q'), l.q), toLayout(b, inp('k'), l.kv), toLayout(b, inp('v'), l.kv), ...(c.P ? [inp('kp'), inp('vp')] : []), ...(f.mask ? [inp('mask')] : [])];
  const attrs = { scale: 1 / Math.sqrt(c.dh), prefix: c.P > 0, masked: f.mask !== undefined, causal: c.causal === true, ...layoutAttrs(l) };
  return { y: b.op('attention', ins, attrs), ins, attrs };
}

/** Cases with a prefix of batch 1 (causal mask tensor) and of batch B (causal attr, T > S), S != H. */
const LAYOUT_CASES = [CASES[1], CASES[7], CASES[0]];

describe('attention op: heads-inner layouts vs the float64 reference', () => {
  for (const c of LAYOUT_CASES.slice(0, 2)) {
    for (const l of LAYOUTS) {
      const targets = l.q === 'bshd' && l.kv === 'bshd' && l.out === 'bshd' ? TARGETS : TARGETS.slice(0, 1);
      for (const { name, target } of targets) {
        it(`${c.name}, ${layoutName(l)} (${name} target)`, async () => {
          const f = feedsOf(c, 13);
          const { cpu, graph } = await checkAgainstReference((b) => toLayout(b, attentionIn(b, c, f, l).y, l.out), f, tol, undefined, target);
          const attn = graph.nodes.find((n) => n.op === 'attention')!;
          expect(attn.type.shape, 'output shape').to.deep.equal(l.out === 'bshd' ? [c.B, c.S, c.H, c.dh] : [c.B, c.H, c.S, c.dh]);
          const plain = new GraphBuilder();
          plain.output('y', attentionOf(plain, c, f));
          expectClose(cpu, new CpuExecutor('f64').runSync(plain.graph, f, new Map()).get('y')!, tol, 'layout vs default layout');
        });
      }
    }
  }

  it('backward ops in every layout on WebGPU vs the reference, and vs the default layout', async () => {
    for (const c of LAYOUT_CASES) {
      const f = feedsOf(c, 29);
      const dy = randomTensor([c.B, c.H, c.S, c.dh], 97);
      const grads = (l: Layouts) => (b: GraphBuilder): Ref => {
        const { y, ins, attrs } = attentionIn(b, c, f, l);
        const g = toLayout(b, b.input('dy', dy.shape), l.out);
        const stats = b.op('attention_stats', [ins[0], ins[1], ...(c.P ? [ins[3]] : []), ...(f.mask ? [ins[ins.length - 1]] : []), g, y], attrs);
        const dq = b.op('attention_grad_q', [...ins, g], attrs);
        const mask = f.mask ? [ins[ins.length - 1]] : [];
        const off = f.mask ? f.mask.shape[f.mask.shape.length - 1] - c.T : 0;
        const kv = { scale: 1 / Math.sqrt(c.dh), masked: !!f.mask, maskOffset: off, causal: c.causal === true, qLayout: l.q, outLayout: l.out };
        const blk = (keys: Ref, vals: Ref, layout: Layout, causal: boolean, maskOffset: number): Ref[] => [
          b.op('attention_grad_kv', [ins[0], keys, vals, ...mask, g, stats], { ...kv, kvLayout: layout, causal, maskOffset, wrt: 'k' }),
          b.op('attention_grad_kv', [ins[0], keys, ...mask, g, stats], { ...kv, kvLayout: layout, causal, maskOffset, wrt: 'v' }),
        ].map((x) => toLayout(b, x, layout));
        // The prefix block is 'bhsd' whatever the sequence's layout; the mask covers it when it is P+T wide.
        const prefix = c.P ? blk(ins[3], ins[4], 'bhsd', false, 0) : [];
        const prefixOk = !f.mask || f.mask.shape[f.mask.shape.length - 1] === c.P + c.T;
        return b.concat([stats, toLayout(b, dq, l.q), ...blk(ins[1], ins[2], l.kv, c.causal === true, off), ...(prefixOk ? prefix : [])].map((x) => b.reshape(x, [-1])), 0);
      };
      const want = new GraphBuilder();
      want.output('y', grads({ q: 'bhsd', kv: 'bhsd', out: 'bhsd' })(want));
      const ref = new CpuExecutor('f64').runSync(want.graph, { ...f, dy }, new Map()).get('y')!;
      for (const l of LAYOUTS.slice(1)) {
        const { cpu } = await checkAgainstReference(grads(l), { ...f, dy }, { rel: 1e-4, abs: 1e-5 }, undefined, l === LAYOUTS[LAYOUTS.length - 1] ? { kind: 'gpu' } : {});
        expectClose(cpu, ref, { rel: 1e-4, abs: 1e-5 }, `${c.name}, ${layoutName(l)} vs default layout`);
      }
    }
  });

  for (const l of [ALL_BSHD, { q: 'bshd', kv: 'bhsd', out: 'bhsd' } as Layouts, { q: 'bhsd', kv: 'bshd', out: 'bshd' } as Layouts]) {
    it(`gradients with ${layoutName(l)}: analytic vs finite differences, and WebGPU vs CPU`, async () => {
      const c = CASES[6];
      const f = feedsOf(c, 43);
      await checkGradients((b) => toLayout(b, attentionIn(b, c, f, l).y, l.out), f, { wrt: ['q', 'k', 'v', 'kp', 'vp'], maxElements: 24, gpuAbs: 2e-5 });
    });
  }

  it('the gradient rule gives each cotangent its input\'s layout (no permute in the backward)', () => {
    const c = CASES[6];
    const f = feedsOf(c, 5);
    const b = new GraphBuilder();
    const x = (n: string, shape: readonly number[]): Ref => b.input(n, [...shape]);
    const ins = [x('q', [c.B, c.S, c.H, c.dh]), x('k', [c.B, c.T, c.H, c.dh]), x('v', [c.B, c.T, c.H, c.dh]), x('kp', f.kp.shape), x('vp', f.vp.shape), x('mask', f.mask!.shape)];
    const y = b.op('attention', ins, { scale: 0.5, prefix: true, masked: true, causal: true, ...layoutAttrs(ALL_BSHD) });
    const before = b.graph.nodes.length;
    const { grads } = appendBackward(b, y, b.input('dy', y.type.shape), ins.slice(0, 5).map((r) => r.id));
    expect(b.graph.nodes.slice(before).filter((n) => n.op === 'permute')).to.have.length(0);
    expect(ins.slice(0, 5).map((r) => b.graph.node(grads.get(r.id)!.id).type.shape)).to.deep.equal(ins.slice(0, 5).map((r) => r.type.shape));
  });

  it('rejects inputs that do not match their layout, naming it', () => {
    const t = (shape: number[]): TensorType => ({ shape, dtype: 'f32' });
    const type = (inputs: TensorType[], attrs: Record<string, unknown>) => () => getOp('attention').type(inputs, attrs, inputs[0]);
    const q = t([2, 3, 4, 5]), k = t([2, 6, 4, 5]);
    expect(getOp('attention').type([q, k, k], { scale: 1, prefix: false, masked: false, ...layoutAttrs(ALL_BSHD) }, q).shape).to.deep.equal([2, 3, 4, 5]);
    expect(getOp('attention').type([q, k, k], { scale: 1, prefix: false, masked: false, qLayout: 'bshd', kvLayout: 'bshd' }, q).shape).to.deep.equal([2, 4, 3, 5]);
    expect(type([q, k, k], { scale: 1, prefix: false, masked: false, qLayout: 'bshd' })).to.throw(/k must be \[2,4,n,5\].*layout bhsd/);
    expect(type([q, t([2, 6, 3, 5]), t([2, 6, 3, 5])], { scale: 1, prefix: false, masked: false, qLayout: 'bshd', kvLayout: 'bshd' })).to.throw(/k must be \[2,n,4,5\].*layout bshd/);
  });
});

describe('attention op: gradients', () => {
  for (const c of CASES) {
    it(`${c.name}: analytic vs finite differences, and WebGPU vs CPU`, async () => {
      const f = feedsOf(c, 41);
      await checkGradients((b) => attentionOf(b, c, f), f, { wrt: ['q', 'k', 'v', ...(c.P ? ['kp', 'vp'] : [])], maxElements: 24, gpuAbs: 2e-5 });
    });
  }

  it('builds only the cotangents that are needed (a prefix-only gradient has no dq, dk or dv kernel)', () => {
    const c = CASES[1];
    const f = feedsOf(c, 5);
    const b = new GraphBuilder();
    const y = attentionOf(b, c, f);
    const kp = b.graph.inputs().find((n) => n.attrs.name === 'kp')!;
    appendBackward(b, y, b.input('dy', y.type.shape), [kp.id]);
    const ops = b.graph.nodes.map((n) => (n.op === 'attention_grad_kv' ? `${n.op}:${String(n.attrs.wrt)}` : n.op)).filter((o) => o.startsWith('attention_'));
    expect(ops.sort()).to.deep.equal(['attention_grad_kv:k', 'attention_stats']);
  });
});

describe('attention op: type errors name the input and the expected form', () => {
  const t = (shape: number[]): TensorType => ({ shape, dtype: 'f32' });
  const type = (inputs: TensorType[], attrs: Record<string, unknown>) => () => getOp('attention').type(inputs, attrs, inputs[0]);
  it('rejects bad shapes', () => {
    const q = t([2, 2, 3, 4]), k = t([2, 2, 5, 4]);
    expect(type([q, k, k], { scale: 1, prefix: false, masked: true })).to.throw(/3 inputs|4 inputs/);
    expect(type([q, k, t([2, 2, 6, 4])], { scale: 1, prefix: false, masked: false })).to.throw(/v has 6 positions but k has 5/);
    expect(type([q, k, k, t([3, 2, 2, 4]), t([3, 2, 2, 4])], { scale: 1, prefix: true, masked: false })).to.throw(/kp must be \[1 or 2,2,n,4\]/);
    expect(type([q, k, k, t([1, 2, 2, 4]), t([1, 2, 2, 4]), t([2, 1, 3, 6])], { scale: 1, prefix: true, masked: true })).to.throw(/mask \[2,1,3,6\] must broadcast to \[2,2,3,W\] with W = 7/);
    expect(type([q, t([2, 2, 5, 3]), k], { scale: 1, prefix: false, masked: false })).to.throw(/k must be \[2,2,n,4\]/);
  });
});

// ---- a prefix read at its columns of a 2-D prompt (prefixLayout 'pc') ---------------------------

interface ColumnCase {
  name: string;
  B: number; H: number; S: number; T: number; dh: number; P: number;
  /** Prompt width and the keys' and values' first columns (both from the one prompt tensor). */
  W: number; kCol: number; vCol: number;
  /** Mask width P+T (covers the prefix) or T, or none. */
  maskW?: 'PT' | 'T';
  causal?: boolean;
}

const COLUMN_CASES: ColumnCase[] = [
  { name: 'B 2, H 3, dh 5, P 3, columns 4 and 22 of 37, mask covering the prefix, causal', B: 2, H: 3, S: 4, T: 5, dh: 5, P: 3, W: 37, kCol: 4, vCol: 22, maskW: 'PT', causal: true },
  { name: 'B 1, H 2, dh 3, P 5, values before keys (columns 17 and 1 of 25), sequence-only mask', B: 1, H: 2, S: 3, T: 4, dh: 3, P: 5, W: 25, kCol: 17, vCol: 1, maskW: 'T' },
  { name: 'B 3, H 1, dh 7, P 2, columns 3 and 11 of 19, no mask', B: 3, H: 1, S: 2, T: 3, dh: 7, P: 2, W: 19, kCol: 3, vCol: 11 },
];

function columnFeeds(c: ColumnCase, seed: number): Record<string, HostTensor> {
  const f: Record<string, HostTensor> = {
    q: randomTensor([c.B, c.H, c.S, c.dh], seed), k: randomTensor([c.B, c.H, c.T, c.dh], seed + 1), v: randomTensor([c.B, c.H, c.T, c.dh], seed + 2),
    x: randomTensor([c.P, c.W], seed + 3),
  };
  if (c.maskW) {
    const W = c.maskW === 'PT' ? c.P + c.T : c.T;
    f.mask = hostTensor([c.B, 1, c.S, W], 'f32', Array.from({ length: c.B * c.S * W }, (_, k) => (k % W > 0 && (k * 7) % 5 === 0 ? MASK_NEG : 0)));
  }
  return f;
}

const columnAttrs = (c: ColumnCase, f: Record<string, HostTensor>): Record<string, number | boolean | string> => ({
  scale: 1 / Math.sqrt(c.dh), prefix: true, masked: f.mask !== undefined, causal: c.causal === true, prefixLayout: 'pc', kpColumn: c.kCol, vpColumn: c.vCol,
});

/** attention reading kp and vp at their columns of the one input x [P,W]; `ins` its inputs. */
function columnAttention(b: GraphBuilder, c: ColumnCase, f: Record<string, HostTensor>): { y: Ref; ins: Ref[] } {
  const inp = (n: string): Ref => b.input(n, f[n].shape);
  const x = inp('x');
  const ins = [inp('q'), inp('k'), inp('v'), x, x, ...(f.mask ? [inp('mask')] : [])];
  return { y: b.op('attention', ins, columnAttrs(c, f)), ins };
}

/** The block at column `col` of x as a 'bhpd' prefix [1,H,P,dh], as deep-prompt.ts cuts it. */
const blockAt = (b: GraphBuilder, x: Ref, c: ColumnCase, col: number): Ref =>
  b.reshape(b.permute(b.reshape(b.slice(x, 1, col, col + c.H * c.dh), [c.P, c.H, c.dh]), [1, 0, 2]), [1, c.H, c.P, c.dh]);

/** The same attention with the blocks cut out and read as a 'bhpd' prefix of batch 1. */
function columnOracle(b: GraphBuilder, c: ColumnCase, f: Record<string, HostTensor>): Ref {
  const inp = (n: string): Ref => b.input(n, f[n].shape);
  const x = inp('x');
  const attrs = { ...columnAttrs(c, f) };
  for (const k of ['prefixLayout', 'kpColumn', 'vpColumn']) delete attrs[k];
  return b.op('attention', [inp('q'), inp('k'), inp('v'), blockAt(b, x, c, c.kCol), blockAt(b, x, c, c.vCol), ...(f.mask ? [inp('mask')] : [])], attrs);
}

describe('attention op: a prefix read at its columns of a 2-D prompt (prefixLayout pc)', () => {
  for (const c of COLUMN_CASES) {
    for (const { name, target } of TARGETS) {
      it(`${c.name} (${name} target): WGSL vs the reference vs the cut-out prefix`, async () => {
        const f = columnFeeds(c, 17);
        const { cpu } = await checkAgainstReference((b) => columnAttention(b, c, f).y, f, tol, undefined, target);
        const oracle = new GraphBuilder();
        oracle.output('y', columnOracle(oracle, c, f));
        expectClose(cpu, new CpuExecutor('f64').runSync(oracle.graph, f, new Map()).get('y')!, tol, 'pc vs bhpd prefix');
      });
    }
  }

  it('backward ops on WebGPU vs the reference, each on its own; dkp, dvp [P,H*dh] as the bhpd ones', async () => {
    for (const c of COLUMN_CASES) {
      const f = columnFeeds(c, 31);
      const dy = randomTensor([c.B, c.H, c.S, c.dh], 95);
      const maskOffset = 0;
      const prefixMasked = c.maskW === 'PT';
      const grads = (pc: boolean) => (b: GraphBuilder): Ref => {
        const g = b.input('dy', dy.shape);
        const { y, ins } = pc ? columnAttention(b, c, f) : { y: columnOracle(b, c, f), ins: [] };
        const node = b.graph.node(y.id);
        const all = pc ? ins : node.inputs.map((i) => b.ref(i));
        const attrs = node.attrs as Record<string, number | boolean | string>;
        const mask = f.mask ? [all[all.length - 1]] : [];
        const stats = b.op('attention_stats', [all[0], all[1], all[3], ...mask, g, y], attrs);
        const dq = b.op('attention_grad_q', [...all, g], attrs);
        const kv = { scale: 1 / Math.sqrt(c.dh), masked: prefixMasked, maskOffset, ...(pc ? { prefixLayout: 'pc', kpColumn: c.kCol, vpColumn: c.vCol } : {}) };
        const pm = prefixMasked ? mask : [];
        const dkp = b.op('attention_grad_kv', [all[0], all[3], all[4], ...pm, g, stats], { ...kv, wrt: 'k' });
        const dvp = b.op('attention_grad_kv', [all[0], all[3], ...pm, g, stats], { ...kv, wrt: 'v' });
        // bhpd [1,H,P,dh] -> [P,H*dh], the 'pc' gradient's layout.
        const rows = (x: Ref): Ref => (pc ? x : b.reshape(b.permute(b.reshape(x, [c.H, c.P, c.dh]), [1, 0, 2]), [c.P, c.H * c.dh]));
        if (pc) expect([dkp, dvp].map((x) => x.type.shape)).to.deep.equal([[c.P, c.H * c.dh], [c.P, c.H * c.dh]]);
        return b.concat([stats, dq, rows(dkp), rows(dvp)].map((x) => b.reshape(x, [-1])), 0);
      };
      const want = new GraphBuilder();
      want.output('y', grads(false)(want));
      const ref = new CpuExecutor('f64').runSync(want.graph, { ...f, dy }, new Map()).get('y')!;
      for (const { target } of TARGETS) {
        const { cpu } = await checkAgainstReference(grads(true), { ...f, dy }, { rel: 1e-4, abs: 1e-5 }, undefined, target);
        expectClose(cpu, ref, { rel: 1e-4, abs: 1e-5 }, `${c.name}: pc vs bhpd`);
      }
    }
  });

  for (const c of COLUMN_CASES) {
    it(`${c.name}: gradients (x read twice, padded back to [P,W]) vs finite differences, and WebGPU vs CPU`, async () => {
      const f = columnFeeds(c, 47);
      await checkGradients((b) => columnAttention(b, c, f).y, f, { wrt: ['q', 'k', 'v', 'x'], maxElements: 24, gpuAbs: 2e-5 });
    });
  }

  it('the gradient of a pc prefix is pad(attention_grad_kv [P,H*dh]) to [P,W] (no permute)', () => {
    const c = COLUMN_CASES[0];
    const f = columnFeeds(c, 5);
    const b = new GraphBuilder();
    const { y, ins } = columnAttention(b, c, f);
    const before = b.graph.nodes.length;
    const { grads } = appendBackward(b, y, b.input('dy', y.type.shape), [ins[3].id]);
    const added = b.graph.nodes.slice(before);
    expect(added.filter((n) => n.op === 'permute' || n.op === 'slice')).to.have.length(0);
    expect(added.filter((n) => n.op === 'pad').map((n) => [n.attrs.before, n.attrs.after])).to.deep.equal([[c.kCol, c.W - c.kCol - c.H * c.dh], [c.vCol, c.W - c.vCol - c.H * c.dh]]);
    expect(b.graph.node(grads.get(ins[3].id)!.id).type.shape).to.deep.equal([c.P, c.W]);
  });

  it('rejects bad columns and shapes, naming the field', () => {
    const t = (shape: number[]): TensorType => ({ shape, dtype: 'f32' });
    const q = t([2, 3, 4, 5]), k = t([2, 3, 6, 5]);
    const type = (x: TensorType, y: TensorType, attrs: Record<string, unknown>) => () => getOp('attention').type([q, k, k, x, y], { scale: 1, prefix: true, masked: false, prefixLayout: 'pc', ...attrs }, q);
    expect(getOp('attention').type([q, k, k, t([2, 40]), t([2, 40])], { scale: 1, prefix: true, masked: false, prefixLayout: 'pc', kpColumn: 0, vpColumn: 25 }, q).shape).to.deep.equal([2, 3, 4, 5]);
    expect(type(t([2, 40]), t([2, 40]), { kpColumn: 0, vpColumn: 26 })).to.throw(/vpColumn must be an integer in \[0, 25\].*H\*dh = 15/);
    expect(type(t([2, 40]), t([2, 40]), { vpColumn: 3 })).to.throw(/kpColumn must be an integer/);
    expect(type(t([1, 2, 40]), t([2, 40]), { kpColumn: 0, vpColumn: 3 })).to.throw(/kp must be \[P,W\]/);
    expect(type(t([2, 40]), t([3, 40]), { kpColumn: 0, vpColumn: 3 })).to.throw(/vp \[3,40\] must have the shape of kp \[2,40\]/);
  });
});

// ---- the fuse-attention pass --------------------------------------------------------------------

type Kind = 'gpt2' | 'bert';

function method(kind: Kind, spec: 'none' | 'prefix'): MethodResult {
  const { graph } = backbone(kind);
  return spec === 'prefix' ? applySpec(graph, { method: 'prefix-tuning', length: 3, reparam: null }) : applySpec(graph, { method: 'fine-tune' });
}

function count(g: Graph, op: string): number {
  return g.nodes.filter((n) => n.op === op).length;
}

describe('fuse-attention pass: same loss and gradients as the unfused program', () => {
  for (const kind of ['gpt2', 'bert'] as const) {
    for (const spec of ['prefix', 'none'] as const) {
      it(`${kind} tiny, ${spec === 'prefix' ? 'prefix-tuning' : 'full fine-tuning'}: CPU and WebGPU, fused vs unfused`, async () => {
        const r = method(kind, spec);
        const { weights } = backbone(kind);
        const params = paramsFor(r, weights);
        const feeds: Feeds = batch(kind);
        const ctx = await gpu();
        const opts = { train: true, optimizer: false as const, trainable: r.trainable, target: ctx.target };
        const on = compile(r.graph, { ...opts, params: new Map(params) });
        const off = compile(r.graph, { ...opts, params: new Map(params), fuseAttention: false });
        expect(count(on.graph, 'attention'), 'attention nodes').to.equal(2);
        expect(count(on.graph, 'softmax') + count(on.graph, 'softmax_grad'), 'softmax left').to.equal(0);
        expect(count(off.graph, 'attention')).to.equal(0);
        // GPT-2's causal + padding mask: the causal part becomes the attribute (hidden keys skipped).
        expect(on.graph.nodes.filter((n) => n.op === 'attention').map((n) => n.attrs.causal === true)).to.deep.equal([kind === 'gpt2', kind === 'gpt2']);
        if (spec === 'prefix') {
          // The forward's prefix copies (the backward may concat slice gradients, see pads-to-concat).
          const copies = on.graph.nodes.filter((n) => (n.op === 'broadcast_to' || n.op === 'concat') && !n.scope.startsWith('grad'));
          expect(copies.length, 'prefix copies left').to.equal(0);
          expect(on.graph.nodes.filter((n) => n.op === 'attention').every((n) => n.attrs.prefix === true)).to.equal(true);
          // The prefix is read at its columns of the prompt: no per-layer slice or permute copies
          // it forward, and its gradient is padded back without a permute.
          expect(on.graph.nodes.filter((n) => n.op === 'attention').map((n) => n.attrs.prefixLayout)).to.deep.equal(['pc', 'pc']);
          const inPrefix = (g: Graph, ops: string[], grad: boolean) => g.nodes.filter((n) => ops.includes(n.op) && /\.prefix$/.test(n.scope) && n.scope.startsWith('grad') === grad).length;
          expect(inPrefix(off.graph, ['permute'], false), 'prefix permutes unfused').to.be.above(0);
          expect(inPrefix(on.graph, ['permute', 'slice'], false), 'prefix slices/permutes fused').to.equal(0);
          expect(inPrefix(on.graph, ['permute'], true), 'prefix backward permutes fused').to.equal(0);
        }
        // The head split/merge permutes around attention are absorbed (forward and backward); a
        // prefix's own reshaping (scope ...attn.prefix) is not attention's.
        const headPermutes = (g: Graph): number => g.nodes.filter((n) => n.op === 'permute' && /(attn|attention\.self)$/.test(n.scope)).length;
        expect(headPermutes(off.graph), 'head permutes unfused').to.be.above(0);
        expect(headPermutes(on.graph), 'head permutes fused').to.equal(0);
        expect(on.graph.nodes.filter((n) => n.op === 'attention').map((n) => [n.attrs.qLayout, n.attrs.kvLayout, n.attrs.outLayout])).to.deep.equal([0, 1].map(() => ['bshd', 'bshd', 'bshd']));
        console.log(`      kernels per step (${kind}, ${spec}): fused ${on.kernels.size}, unfused ${off.kernels.size}`);
        expect(on.kernels.size).to.be.below(off.kernels.size);
        const names = [...on.graph.outputs.keys()].filter((k) => k.startsWith('grad:') || k === 'loss');
        expect(names.length).to.be.above(1);
        const run = async (c: typeof on) => ({
          cpu: new CpuExecutor('f32').runSync(c.graph, feeds, c.params, names),
          dev: await new GpuExecutor(ctx).run(c.graph, feeds, c.params, names),
        });
        const [a, b] = [await run(on), await run(off)];
        for (const n of names) {
          expectClose(a.cpu.get(n)!, b.cpu.get(n)!, { rel: 1e-5, abs: 1e-5 }, `cpu ${n}`);
          expectClose(a.dev.get(n)!, b.dev.get(n)!, { rel: 1e-5, abs: 1e-5 }, `webgpu ${n}`);
        }
      });
    }
  }

  it('leaves attention unfused when the probabilities are read elsewhere, or with fuseAttention: false', () => {
    const b = new GraphBuilder();
    const q = b.input('q', [1, 2, 3, 4]), k = b.input('k', [1, 2, 3, 4]);
    const probs = b.softmax(b.scale(b.matmul(q, k, { transB: true }), 0.5));
    b.output('y', b.matmul(probs, k));
    b.output('probs', probs);
    expect(count(compile(b.graph).graph, 'attention')).to.equal(0);
    b.graph.outputs.delete('probs');
    expect(count(compile(b.graph).graph, 'attention')).to.equal(1);
    expect(count(compile(b.graph, { fuseAttention: false }).graph, 'attention')).to.equal(0);
    expect(count(compile(b.graph, { fuse: false }).graph, 'attention')).to.equal(0);
  });

  it('a width-1 mask over one sequence key and a prefix covers the prefix too (fused = unfused)', () => {
    // softmax broadcasts a [.., 1] mask over every key: it must not be read as sequence-only.
    const b = new GraphBuilder();
    const q = b.input('q', [1, 1, 2, 4]), k = b.input('k', [1, 1, 1, 4]), kp = b.input('kp', [1, 1, 2, 4]);
    const keys = b.concat([kp, k], 2);
    const mask = b.input('mask', [1, 1, 2, 1]);
    b.output('y', b.matmul(b.softmax(b.scale(b.matmul(q, keys, { transB: true }), 0.5), mask), keys));
    const feeds = { q: randomTensor([1, 1, 2, 4], 1), k: randomTensor([1, 1, 1, 4], 2), kp: randomTensor([1, 1, 2, 4], 3), mask: hostTensor([1, 1, 2, 1], 'f32', [-5, 0]) };
    const run = (fuseAttention: boolean) => new CpuExecutor('f64').runSync(compile(b.graph, { fuseAttention }).graph, feeds, new Map(), ['y']).get('y')!;
    expectClose(run(true), run(false), { rel: 1e-12, abs: 1e-12 }, 'fused vs unfused');
  });
});
