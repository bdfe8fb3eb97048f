// f16 storage of frozen parameters (`frozenStorage: 'f16'`, the half-storage pass): every op
// that gains an f16 operand against the CPU reference (which computes in f64 from the same
// f16-rounded values), every matmul variant with f16 A and/or B, the pass's rewrites, and a
// GPT-2-tiny prefix-tuning step on the device against the reference and against f32 storage.
// Shapes are small: each distinct kernel is JIT-compiled by llvmpipe.

import { expect } from 'chai';
import {
  applySpec, asF16, buildBackbone, compile, CpuProgram, DEFAULT_TARGET, getOp, gpt2TinyConfig, GraphBuilder, hostTensor, initParams,
  optimizerFeeds, Program, randomTensor, randomWeights, roundToDType, typeOf, wgsl, type Compiled, type Feeds, type HostTensor,
  type Kernel, type KernelTarget, type ParamStore, type TensorType,
} from '../src/index.js';
import { MATMUL_VARIANTS, matmulKernel, type MatmulAttrs, type MatmulVariant } from '../src/ops/defs/matmul.js';
import { matmulFusedKernel } from '../src/ops/defs/matmul-fused.js';
import { encodeProgram } from '../src/ops/defs/fused.js';
import { createRunner } from '../src/pipelines/runner.js';
import { checkAgainstReference, expectClose } from './helpers.js';
import { gpu } from './setup.js';

/** Skips a device test where the adapter has no shader-f16 (f16 storage is then refused). */
async function needsF16(ctx: Mocha.Context): Promise<void> {
  if (!(await gpu()).target.f16) ctx.skip();
}

/** Runs one kernel: inputs bound 0..n-1, the output at n. */
async function runKernel(kernel: Kernel, inputs: readonly HostTensor[], out: TensorType): Promise<HostTensor> {
  const ctx = await gpu();
  const n = inputs.length + 1;
  const pipeline = await ctx.pipeline(kernel.code, n, kernel.variant);
  const bufs = [...inputs.map((x) => ctx.upload(x)), ctx.allocate(out)];
  try {
    await ctx.submit((pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, ctx.bindGroup(n, bufs.map((b) => b.buffer)));
      pass.dispatchWorkgroups(...kernel.workgroups);
    }, kernel.variant);
    return await ctx.download(bufs[n - 1]);
  } finally {
    for (const b of bufs) ctx.free(b);
  }
}

const mm = getOp('matmul');
const tolFor = (K: number) => ({ rel: 1e-5, abs: 1e-5 * Math.sqrt(Math.max(K, 1)) });
const TRANSPOSES: MatmulAttrs[] = [
  { transA: false, transB: false }, { transA: true, transB: false }, { transA: false, transB: true }, { transA: true, transB: true },
];
const tag = (x: MatmulAttrs) => `${x.transA ? 'T' : 'N'}${x.transB ? 'T' : 'N'}`;

/** Operands of op(A)[M,K]·op(B)[K,N] with the given storage dtypes (f16 ones hold f16-rounded values). */
function operands(batchA: number[], batchB: number[], [M, K, N]: readonly number[], attrs: MatmulAttrs, dtypes: ['f32' | 'f16', 'f32' | 'f16'], seed: number): [HostTensor, HostTensor] {
  return [
    randomTensor([...batchA, ...(attrs.transA ? [K, M] : [M, K])], seed, { dtype: dtypes[0] }),
    randomTensor([...batchB, ...(attrs.transB ? [N, K] : [K, N])], seed + 1, { dtype: dtypes[1] }),
  ];
}

async function checkMatmul(variant: MatmulVariant | 'auto', a: HostTensor, b: HostTensor, attrs: MatmulAttrs): Promise<void> {
  const target = (await gpu()).target;
  const out = mm.type([typeOf(a), typeOf(b)], attrs, { shape: [], dtype: 'f32' });
  expect(out.dtype).to.equal('f32');
  // The reference reads the same (f16-rounded) values in f64: storage must not change the result.
  const expected = mm.reference!([a, b], attrs, out);
  const k = matmulKernel({ inputs: [typeOf(a), typeOf(b)], output: out, attrs, target }, variant);
  expect(k.code).to.match(/^enable f16;/m);
  const K = attrs.transA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
  expectClose(await runKernel(k, [a, b], out), expected, tolFor(K), `${k.variant} ${tag(attrs)} A:${a.dtype}[${a.shape}] B:${b.dtype}[${b.shape}]`);
}

describe('half storage: matmul with f16 operands, every variant', () => {
  // Per transpose: an aligned shape (the vec4 paths of blocked/skinny read vec4<f16>) and an odd
  // one (tails, scalar paths). The storage patterns rotate over the transposes so each of f16 B
  // (the usual weight), f16 A (a tied head, a transposed weight) and both meets both shapes.
  type Pattern = ['f32' | 'f16', 'f32' | 'f16'];
  const patterns: Pattern[] = [['f32', 'f16'], ['f16', 'f32'], ['f16', 'f16']];
  for (const variant of [...MATMUL_VARIANTS, 'auto'] as const) {
    it(`${variant}: every transpose, f16 A and/or B, odd and aligned shapes, batch broadcast`, async function () {
      await needsF16(this);
      if (variant === 'subgroup' && !(await gpu()).target.subgroups) this.skip();
      let seed = 20;
      for (const [t, attrs] of TRANSPOSES.entries()) {
        for (const [j, s] of [[8, 16, 12], [5, 13, 7]].entries()) {
          const [a, b] = operands([], [], s, attrs, patterns[(t + j) % 3], (seed += 2));
          await checkMatmul(variant, a, b, attrs);
        }
      }
      // Shared f16 weight over a batch (folded into one GEMM), and broadcast batch dims with f16 A.
      const [a1, b1] = operands([2, 3], [], [5, 8, 12], TRANSPOSES[0], ['f32', 'f16'], 90);
      await checkMatmul(variant, a1, b1, TRANSPOSES[0]);
      const [a2, b2] = operands([2, 1], [3], [4, 8, 6], TRANSPOSES[2], ['f16', 'f32'], 92);
      await checkMatmul(variant, a2, b2, TRANSPOSES[2]);
    });
  }

  it('matmul_fused: f16 bias and residual extras in the epilogue', async function () {
    await needsF16(this);
    const target = (await gpu()).target;
    const attrs = { transA: false, transB: false };
    const [M, K, N] = [6, 20, 12];
    const a = randomTensor([M, K], 1), w = randomTensor([K, N], 2, { dtype: 'f16' });
    const bias = randomTensor([N], 3, { dtype: 'f16' }), res = randomTensor([M, N], 4, { dtype: 'f16' });
    const out: TensorType = { shape: [M, N], dtype: 'f32' };
    // gelu(a·w + bias) + res, the value of the matmul being external 0.
    const program = encodeProgram([
      { op: 'add', args: [0, 1], attrs: {}, type: out },
      { op: 'gelu', args: [-1], attrs: {}, type: out },
      { op: 'add', args: [-2, 2], attrs: {}, type: out },
    ]);
    const def = getOp('matmul_fused');
    const fa = { ...attrs, program };
    const inputs = [a, w, bias, res];
    expect(def.type(inputs.map(typeOf), fa, out)).to.deep.equal(out);
    const expected = roundToDType(def.reference!(inputs, fa, out));
    // The epilogue is the same code in every variant: one register-blocked and the naive kernel.
    for (const variant of ['naive', target.subgroups ? 'subgroup' as const : 'blocked' as const] as const) {
      const k = matmulFusedKernel({ inputs: inputs.map(typeOf), output: out, attrs: fa, target }, variant);
      expectClose(await runKernel(k, inputs, out), expected, { rel: 1e-5, abs: 1e-5 }, k.variant);
    }
  });

  it('refuses i32 operands, and f16 ones on a target without shader-f16', () => {
    const b = new GraphBuilder();
    expect(() => b.matmul(b.input('a', [2, 3], 'i32'), b.input('w', [3, 4]))).to.throw(/float \(f32 or f16\) operands/);
    const inputs: TensorType[] = [{ shape: [2, 3], dtype: 'f32' }, { shape: [3, 4], dtype: 'f16' }];
    expect(() => matmulKernel({ inputs, output: { shape: [2, 4], dtype: 'f32' }, attrs: TRANSPOSES[0], target: DEFAULT_TARGET }))
      .to.throw(/shader-f16/);
  });
});

describe('half storage: element-wise, fused and layernorm read f16 operands in f32', () => {
  it('add / mul / where with an f16 operand give f32, broadcasting, odd shapes', async function () {
    await needsF16(this);
    const x = randomTensor([3, 5, 7], 1), h = randomTensor([7], 2, { dtype: 'f16' }), hm = randomTensor([3, 1, 7], 3, { dtype: 'f16' });
    const c = hostTensor([5, 1], 'f32', [1, 0, 1, 1, 0]);
    const { gpu: out } = await checkAgainstReference((b) => {
      const xi = b.input('x', x.shape), hi = b.input('h', h.shape, 'f16'), hmi = b.input('hm', hm.shape, 'f16');
      return b.where(b.input('c', c.shape), b.mul(b.add(xi, hi), hmi), hi);
    }, { x, h, hm, c }, { rel: 1e-6, abs: 1e-6 });
    expect(out.dtype).to.equal('f32');
    // Two f16 operands stay f16 (f16 arithmetic), as before; i32 never mixes.
    const b = new GraphBuilder();
    expect(b.add(b.input('p', [2], 'f16'), b.input('q', [2], 'f16')).type.dtype).to.equal('f16');
    expect(() => b.add(b.input('r', [2], 'i32'), b.input('s', [2]))).to.throw(/input 1 is f32, expected i32/);
  });

  it('a fused kernel with f16 externals (through compile and the fusion pass)', async function () {
    await needsF16(this);
    const x = randomTensor([4, 9], 4), h = randomTensor([9], 5, { dtype: 'f16' });
    const b = new GraphBuilder();
    b.output('y', b.gelu(b.scale(b.add(b.input('x', x.shape), b.input('h', h.shape, 'f16')), 0.7)));
    const ctx = await gpu();
    const c = compile(b.graph, { target: ctx.target });
    expect(c.graph.nodes.map((n) => n.op)).to.include('fused');
    const feeds = { x, h };
    const dev = (await new CpuProgram(c, new Map()).run(feeds, ['y'])).get('y')!;
    const p = await Program.create(ctx, c, new Map());
    try {
      expectClose((await p.run(feeds, ['y'])).get('y')!, dev, { rel: 1e-5, abs: 1e-6 }, 'fused');
    } finally {
      p.release();
    }
  });

  it('layernorm and layernorm_grad with f16 gamma / beta and f32 x', async function () {
    await needsF16(this);
    const x = randomTensor([3, 37], 6), dy = randomTensor([3, 37], 7);
    const g = randomTensor([37], 8, { dtype: 'f16' }), be = randomTensor([37], 9, { dtype: 'f16' });
    const gamma = (b: GraphBuilder) => b.input('g', [37], 'f16');
    const { gpu: y } = await checkAgainstReference((b) => b.layernorm(b.input('x', x.shape), gamma(b), b.input('be', [37], 'f16'), 1e-5), { x, g, be }, { rel: 1e-5, abs: 1e-5 });
    expect(y.dtype).to.equal('f32');
    await checkAgainstReference((b) => b.op('layernorm_grad', [b.input('x', x.shape), gamma(b), b.input('dy', dy.shape)], { eps: 1e-5 }), { x, g, dy }, { rel: 1e-4, abs: 1e-5 });
  });

  it('gather from an f16 table gives the f16 rows bit for bit', async function () {
    await needsF16(this);
    const t = randomTensor([11, 6], 10, { dtype: 'f16' }), ids = hostTensor([2, 3], 'i32', [0, 10, 4, 4, -1, 11]);
    const { gpu: rows } = await checkAgainstReference((b) => b.gather(b.input('t', t.shape, 'f16'), b.input('ids', ids.shape, 'i32')), { t, ids }, { rel: 0, abs: 0 });
    expect(rows.dtype).to.equal('f16');
  });
});

// ---- the pass ------------------------------------------------------------------------------

const F16_TARGET: KernelTarget = { ...DEFAULT_TARGET, f16: true };

/** Device bytes of the parameters a compiled step only reads (frozen, not updated). */
function frozenBytes(c: Compiled): number {
  const updated = new Set([...c.graph.outputs.keys()].filter((k) => k.startsWith('next:')).map((k) => k.slice(5)));
  return c.graph.params().filter((p) => p.attrs.trainable !== true && !updated.has(String(p.attrs.name)))
    .reduce((s, p) => s + wgsl.deviceByteSize(p.type), 0);
}

/** GPT-2 tiny with direct prefix-tuning, its parameters and one batch. */
function prefixSetup(): { graph: ReturnType<typeof applySpec>['graph']; trainable: readonly string[]; params: ParamStore; feeds: Feeds } {
  const config = gpt2TinyConfig({ vocabSize: 40, dim: 16, heads: 2, inner: 36, layers: 2, positions: 32 });
  const r = applySpec(buildBackbone(config, { batch: 2, seq: 6 }), { method: 'prefix-tuning', length: 3, reparam: null });
  const params = initParams(r.graph, 2, randomWeights(config, 5, 0.2));
  const ids = randomTensor([2, 6], 3, { dtype: 'i32', low: 1, high: 40 });
  const feeds: Feeds = {
    input_ids: ids,
    attention_mask: hostTensor([2, 6], 'i32', [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1]),
    labels: hostTensor([2, 6], 'i32', Array.from(ids.data, (v, i) => (i === 4 || i === 5 ? -100 : v))),
  };
  return { graph: r.graph, trainable: r.trainable, params, feeds };
}

describe('half storage: the pass', () => {
  it('stores only frozen float parameters as f16; trainable ones, optimizer state and outputs stay f32', () => {
    const { graph, trainable, params } = prefixSetup();
    const c32 = compile(graph, { train: true, trainable, params: new Map(params), target: F16_TARGET });
    const c16 = compile(graph, { train: true, trainable, params: new Map(params), target: F16_TARGET, frozenStorage: 'f16' });
    expect(c16.stages.map((s) => s.pass)).to.include('half-storage');
    expect(c32.stages.map((s) => s.pass)).not.to.include('half-storage');
    for (const p of c16.graph.params()) {
      const name = String(p.attrs.name);
      const frozen = p.attrs.trainable !== true && !name.startsWith('optim.');
      expect(p.type.dtype, name).to.equal(frozen ? 'f16' : 'f32');
    }
    for (const [name, id] of c16.graph.outputs) expect(c16.graph.node(id).type, name).to.deep.equal(c32.graph.node(c32.graph.outputs.get(name)!).type);
    // No weight is copied to f32: the only casts read activations (the gathered and sliced embedding rows).
    const after = c16.stages.find((s) => s.pass === 'half-storage')!.graph;
    const casts = after.nodes.filter((n) => n.op === 'cast');
    expect(casts.map((n) => after.node(n.inputs[0]).op).sort()).to.deep.equal(['gather', 'slice']);
    // Frozen parameter memory halves.
    const ratio = frozenBytes(c16) / frozenBytes(c32);
    expect(ratio, `frozen bytes ${frozenBytes(c16)} / ${frozenBytes(c32)}`).to.be.at.most(0.51);
    expect(c16.plan.peakBytes).to.be.below(c32.plan.peakBytes);
    expect(c16.notes.join('\n')).to.match(/half-storage: \d+ frozen parameter\(s\) stored as f16/);
  });

  it('reads an f32 copy where a reader does not convert, and keeps out-of-range values f32', () => {
    const b = new GraphBuilder();
    const w = b.param('w', [3, 4], { init: 'normal:1' });
    const big = b.param('big', [4], { init: 'zeros' });
    b.output('y', b.add(b.sum(b.softmax(w), [0]), big));
    b.output('w', w);
    const params = new Map([['w', randomTensor([3, 4], 1)], ['big', hostTensor([4], 'f32', [1, 7e4, -2, 0])]]);
    const c = compile(b.graph, { target: F16_TARGET, params, fold: false, frozenStorage: 'f16' });
    const g = c.graph;
    expect(g.params().map((p) => `${String(p.attrs.name)}:${p.type.dtype}`).sort()).to.deep.equal(['big:f32', 'w:f16']);
    const softmax = g.nodes.find((n) => n.op === 'softmax')!;
    expect(g.node(softmax.inputs[0]).op).to.equal('cast');
    expect(g.output('w').type.dtype).to.equal('f32'); // an output keeps its type
    expect(c.notes.join('\n')).to.match(/kept f32 \(values beyond the f16 range\): big/);
    // The reference runs the rewritten graph from the f16-rounded w.
    const y = new CpuProgram(c, params);
    return y.run({}, ['w']).then((out) => expect([...out.get('w')!.data]).to.deep.equal([...roundToDType({ ...params.get('w')!, dtype: 'f16' }).data]));
  });

  it('requesting f16 on a target without f16 is a clear error; a bad value names the option', () => {
    const { graph, trainable, params } = prefixSetup();
    expect(() => compile(graph, { train: true, trainable, params, target: DEFAULT_TARGET, frozenStorage: 'f16' }))
      .to.throw(/frozenStorage 'f16' needs a target with f16 \(the device's shader-f16 feature\)/);
    expect(() => compile(graph, { train: true, trainable, params, target: F16_TARGET, frozenStorage: 'bf16' as 'f16' }))
      .to.throw(/frozenStorage must be 'f32' or 'f16', got "bf16"/);
  });

  it('asF16 rounds once per tensor (so shared device copies stay shared) and refuses values beyond f16', () => {
    const t = hostTensor([3], 'f32', [1 + 2 ** -12, -3.14159, 65504]);
    const h = asF16(t, 'w');
    expect(asF16(t, 'w')).to.equal(h);
    expect(h.dtype).to.equal('f16');
    expect([...h.data]).to.deep.equal([1, roundToDType({ ...t, dtype: 'f16' }).data[1], 65504]);
    expect(() => asF16(hostTensor([1], 'f32', [70000]), "parameter 'x'")).to.throw(/parameter 'x' holds 70000, beyond the f16 range/);
  });
});

describe('half storage: a GPT-2-tiny prefix-tuning step', () => {
  it('on WebGPU matches the CPU reference on the same f16 weights, and f32 storage closely; frozen bytes halve', async function () {
    await needsF16(this);
    const ctx = await gpu();
    const { graph, trainable, params, feeds } = prefixSetup();
    const opts = { train: true, trainable, target: ctx.target };
    const c16 = compile(graph, { ...opts, params: new Map(params), frozenStorage: 'f16' });
    const c32 = compile(graph, { ...opts, params: new Map(params) });
    expect(frozenBytes(c16) / frozenBytes(c32)).to.be.at.most(0.51);
    const dev = await Program.create(ctx, c16, params);
    const ref = new CpuProgram(c16, params);
    // f32 storage on the reference (its device run is the f32 tests' business): fewer cold JIT compiles here.
    const ref32 = new CpuProgram(c32, params);
    try {
      const grad = 'next:prefix.embeddings';
      expect([...c16.graph.outputs.keys()]).to.include(grad);
      const steps = 2, lr = 0.01;
      for (let t = 1; t <= steps; t++) {
        const f = { ...feeds, ...optimizerFeeds(t, lr) };
        const [d, r, r32] = [await dev.run(f, ['loss']), await ref.run(f, ['loss']), await ref32.run(f, ['loss'])];
        const [ld, lr_, l32] = [d.get('loss')!.data[0], r.get('loss')!.data[0], r32.get('loss')!.data[0]];
        expect(Math.abs(ld - lr_), `step ${t}: device ${ld} vs reference ${lr_}`).to.be.at.most(1e-4 * Math.abs(lr_));
        // f16 weights differ from the f32 ones by rounding (<= 2^-11 relative): the loss moves by
        // ~4e-5 relative here (9e-5 on gpt2TinyConfig()); 1e-3 allows 10x that.
        expect(Math.abs(ld - l32) / Math.abs(l32), `step ${t}: f16 storage ${ld} vs f32 ${l32}`).to.be.at.most(1e-3);
        expect(ld).to.not.equal(l32); // the weights really were rounded
      }
      // The trained prefix after the steps (updated on the device), and frozen weights read back.
      const [pd, pr] = [await dev.readParams(['prefix.embeddings', 'wte.weight']), await ref.readParams(['prefix.embeddings'])];
      expectClose(pd.get('prefix.embeddings')!, pr.get('prefix.embeddings')!, { rel: 1e-4, abs: 1e-6 }, 'prefix after 2 steps');
      // Read back as f32 tensors holding exactly the f16-rounded values the device computes with.
      expect(pd.get('wte.weight')!.dtype).to.equal('f32');
      expectClose(pd.get('wte.weight')!, { ...roundToDType({ ...params.get('wte.weight')!, dtype: 'f16' }), dtype: 'f32' }, { rel: 0, abs: 0 }, 'wte on the device');
    } finally {
      dev.release();
    }
  });

  it('a forward (inference) compile reads f16 weights too: logits as the reference', async function () {
    await needsF16(this);
    const ctx = await gpu();
    const { graph, params, feeds } = prefixSetup();
    const c = compile(graph, { params: new Map(params), target: ctx.target, frozenStorage: 'f16' });
    expect(c.graph.params().find((p) => p.attrs.name === 'wte.weight')!.type.dtype).to.equal('f16');
    const dev = await Program.create(ctx, c, params);
    try {
      const [d, r] = [await dev.run(feeds, ['logits']), await new CpuProgram(c, params).run(feeds, ['logits'])];
      expectClose(d.get('logits')!, r.get('logits')!, { rel: 1e-4, abs: 1e-5 }, 'logits');
    } finally {
      dev.release();
    }
  });

  it('shards an f16-stored embedding over a small binding limit, and runs through createRunner', async function () {
    await needsF16(this);
    const ctx = await gpu();
    const { graph, trainable, params, feeds } = prefixSetup();
    // wte is 40 x 16 f32 = 2560 bytes: a 1 KiB limit splits it into chunks (sized for f32), each stored as f16.
    const target = { ...ctx.target, maxStorageBufferBindingSize: 1024 };
    const c = compile(graph, { train: true, trainable, params: new Map(params), target, frozenStorage: 'f16' });
    const chunks = c.graph.params().filter((p) => String(p.attrs.name).startsWith('wte.weight#'));
    expect(chunks.length).to.be.above(1);
    for (const p of chunks) expect(p.type.dtype).to.equal('f16');
    const f = { ...feeds, ...optimizerFeeds(1, 0.01) };
    const dev = await Program.create(ctx, c, c.params);
    try {
      const ld = (await dev.run(f, ['loss'])).get('loss')!.data[0];
      const lr = (await new CpuProgram(c, c.params).run(f, ['loss'])).get('loss')!.data[0];
      expect(Math.abs(ld - lr), `${ld} vs ${lr}`).to.be.at.most(1e-4 * Math.abs(lr));
      // The pipelines' path: the CPU runner compiles f16 storage for the reference executor too.
      const runner = await createRunner('cpu', graph, { train: true, trainable, frozenStorage: 'f16' }, params);
      const unsharded = (await runner.runner.run(f, ['loss'])).get('loss')!.data[0];
      expect(runner.compiled.graph.params().find((p) => p.attrs.name === 'wte.weight')!.type.dtype).to.equal('f16');
      expect(Math.abs(unsharded - lr), `${unsharded} vs ${lr}`).to.be.at.most(1e-4 * Math.abs(lr));
    } finally {
      dev.release();
    }
  });
});
