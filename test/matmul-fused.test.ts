// matmul_fused: every matmul variant (forced) with a bias + gelu + residual epilogue against the
// reference, and the fusion pass absorbing matmuls (a GPT-2 tiny graph gives the same logits).

import { expect } from 'chai';
import {
  buildBackbone, compile, CpuExecutor, getOp, GpuExecutor, GraphBuilder, gpt2TinyConfig, hostTensor, randomTensor, randomWeights, typeOf,
  type Feeds, type HostTensor, type Kernel, type TensorType,
} from '../src/index.js';
import { MATMUL_VARIANTS, type MatmulAttrs, type MatmulVariant } from '../src/ops/defs/matmul.js';
import { matmulFusedKernel, type MatmulFusedAttrs } from '../src/ops/defs/matmul-fused.js';
import { encodeProgram, type FusedStep } from '../src/ops/defs/fused.js';
import { expectClose } from './helpers.js';
import { gpu } from './setup.js';

const op = getOp('matmul_fused');

async function runKernel(kernel: Kernel, inputs: readonly HostTensor[], out: TensorType): Promise<HostTensor> {
  const ctx = await gpu();
  const n = inputs.length + 1;
  const pipeline = await ctx.pipeline(kernel.code, n, kernel.variant);
  const bufs = inputs.map((x) => ctx.upload(x)), go = ctx.allocate(out);
  try {
    await ctx.submit((pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, ctx.bindGroup(n, [...bufs.map((b) => b.buffer), go.buffer]));
      pass.dispatchWorkgroups(...kernel.workgroups);
    }, kernel.variant);
    return await ctx.download(go);
  } finally {
    for (const x of [...bufs, go]) ctx.free(x);
  }
}

/** out = gelu(A·B + bias) + residual: external 0 is the matmul, 1 the bias [N], 2 the residual. */
function epilogue(shape: number[]): string {
  const type: TensorType = { shape, dtype: 'f32' };
  const steps: FusedStep[] = [
    { op: 'add', args: [0, 1], attrs: {}, type },
    { op: 'gelu', args: [-1], attrs: {}, type },
    { op: 'add', args: [-2, 2], attrs: {}, type },
  ];
  return encodeProgram(steps);
}

const NN = { transA: false, transB: false }, NT = { transA: false, transB: true }, TT = { transA: true, transB: true };

async function check(variant: MatmulVariant | 'auto', batchA: number[], batchB: number[], [M, K, N]: number[], mm: MatmulAttrs, seed: number): Promise<void> {
  const a = randomTensor([...batchA, ...(mm.transA ? [K, M] : [M, K])], seed);
  const b = randomTensor([...batchB, ...(mm.transB ? [N, K] : [K, N])], seed + 1);
  const outShape = getOp('matmul').type([typeOf(a), typeOf(b)], mm, typeOf(a)).shape;
  const bias = randomTensor([N], seed + 2), res = randomTensor([...outShape], seed + 3);
  const attrs: MatmulFusedAttrs = { ...mm, program: epilogue([...outShape]) };
  const inputs = [a, b, bias, res];
  const out = op.type(inputs.map(typeOf), attrs, { shape: [], dtype: 'f32' });
  const expected = op.reference!(inputs, attrs, out);
  const k = matmulFusedKernel({ inputs: inputs.map(typeOf), output: out, attrs, target: (await gpu()).target }, variant);
  expectClose(await runKernel(k, inputs, out), expected, { rel: 1e-5, abs: 1e-5 * Math.sqrt(Math.max(K, 1)) }, `${k.variant} A[${a.shape}] B[${b.shape}]`);
}

describe('matmul_fused kernels vs the reference', () => {
  for (const variant of [...MATMUL_VARIANTS, 'auto'] as const) {
    it(`${variant}: bias + gelu + residual on odd and aligned shapes, transposes, batches`, async function () {
      if (variant === 'subgroup' && !(await gpu()).target.subgroups) this.skip();
      let seed = 10;
      // M = 1 (skinny), N < 4 with a K tail, 16-byte aligned rows (vec4 stores), transposes,
      // a batch folded into M, and broadcast batch dims (each shape compiles its own kernel).
      for (const sh of [[1, 3, 17], [17, 65, 3], [36, 300, 132]]) await check(variant, [], [], sh, NN, (seed += 4));
      await check(variant, [], [], [17, 33, 20], TT, (seed += 4));
      await check(variant, [2, 3], [], [5, 7, 9], NN, (seed += 4));
      await check(variant, [2, 1], [3], [8, 12, 16], NT, (seed += 4));
    });
  }

  it('counts the matmul and the epilogue steps', () => {
    const inputs: TensorType[] = [{ shape: [4, 5], dtype: 'f32' }, { shape: [5, 6], dtype: 'f32' }, { shape: [6], dtype: 'f32' }, { shape: [4, 6], dtype: 'f32' }];
    const attrs = { ...NN, program: epilogue([4, 6]) };
    const c = op.cost(inputs, op.type(inputs, attrs, inputs[0]), attrs);
    expect(c.flops).to.be.above(2 * 4 * 5 * 6);
    expect(c.bytes).to.equal(4 * (20 + 30 + 6 + 24 + 24));
  });
});

describe('fusion absorbs matmuls into epilogues', () => {
  it('a linear layer with gelu and a residual becomes one matmul_fused node, on both executors', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 5, 12]), w = b.input('w', [12, 12]), bias = b.input('bias', [12]);
    const h = b.add(b.gelu(b.add(b.matmul(x, w), bias)), x);
    // The second matmul's value is also an output, so it stays a plain matmul.
    const m2 = b.matmul(h, w);
    b.output('y', b.add(m2, bias));
    b.output('m2', m2);
    const feeds: Feeds = { x: randomTensor([2, 5, 12], 1), w: randomTensor([12, 12], 2), bias: randomTensor([12], 3) };
    const ctx = await gpu();
    const fused = compile(b.graph, { target: ctx.target }), plain = compile(b.graph, { target: ctx.target, fuse: false });
    expect(fused.graph.nodes.filter((n) => n.op === 'matmul_fused')).to.have.length(1);
    expect(fused.graph.nodes.filter((n) => n.op === 'matmul')).to.have.length(1);
    for (const name of ['y', 'm2']) {
      const want = new CpuExecutor().runSync(plain.graph, feeds, new Map(), [name]).get(name)!;
      expectClose(new CpuExecutor().runSync(fused.graph, feeds, new Map(), [name]).get(name)!, want, { rel: 1e-5, abs: 1e-6 }, `cpu ${name}`);
      const dev = await new GpuExecutor(ctx).run(fused.graph, feeds, new Map(), [name]);
      expectClose(dev.get(name)!, want, { rel: 1e-5, abs: 1e-5 }, `webgpu ${name}`);
    }
  });

  it('GPT-2 tiny: matmul_fused nodes after compile, the same logits as unfused (CPU and WebGPU)', async () => {
    const config = gpt2TinyConfig();
    const graph = buildBackbone(config, { batch: 2, seq: 8 });
    const weights = randomWeights(config, 7, 0.2);
    const ids = hostTensor([2, 8], 'i32', Array.from({ length: 16 }, (_, i) => (i * 37 + 5) % config.vocabSize));
    const feeds: Feeds = { input_ids: ids, attention_mask: hostTensor([2, 8], 'i32', Array(16).fill(1)), labels: ids };
    const ctx = await gpu();
    const fused = compile(graph, { params: new Map(weights), target: ctx.target });
    const plain = compile(graph, { params: new Map(weights), target: ctx.target, fuse: false });
    expect(fused.graph.nodes.filter((n) => n.op === 'matmul_fused').length).to.be.at.least(2 * config.layers);
    const cpuPlain = new CpuExecutor().runSync(plain.graph, feeds, plain.params, ['logits']).get('logits')!;
    const cpuFused = new CpuExecutor().runSync(fused.graph, feeds, fused.params, ['logits']).get('logits')!;
    expectClose(cpuFused, cpuPlain, { rel: 1e-5, abs: 1e-6 }, 'cpu fused vs unfused logits');
    const gpuPlain = (await new GpuExecutor(ctx).run(plain.graph, feeds, plain.params, ['logits'])).get('logits')!;
    const gpuFused = (await new GpuExecutor(ctx).run(fused.graph, feeds, fused.params, ['logits'])).get('logits')!;
    expectClose(gpuFused, gpuPlain, { rel: 1e-5, abs: 1e-6 }, 'webgpu fused vs unfused logits');
  });
});
