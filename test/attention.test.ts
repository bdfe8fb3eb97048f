// The fused attention op and its backward ops: WGSL (both target variants) against the float64
// reference on odd shapes (S != T, dh not a multiple of 4, with and without a prefix of batch 1
// or B, masks covering the prefix or not, causal), gradients against finite differences, and the
// fuse-attention pass (tiny GPT-2 and BERT, with and without prefix-tuning) against the unfused
// program: same loss and gradients, fewer kernels.

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
          expect(count(on.graph, 'broadcast_to') + count(on.graph, 'concat'), 'prefix copies left').to.equal(0);
          expect(on.graph.nodes.filter((n) => n.op === 'attention').every((n) => n.attrs.prefix === true)).to.equal(true);
        }
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
