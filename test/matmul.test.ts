// matmul: every kernel variant (forced) and the automatic choice against the CPU reference, the
// type rule, cost and gradients. Each distinct shape compiles its own pipeline, and the big
// unrolled kernels take seconds to compile in llvmpipe, so the shape lists are chosen to hit
// every edge (M, N or K of 1, K tails, unaligned rows, partial blocks) with few compiles.

import { expect } from 'chai';
import { DEFAULT_TARGET, GraphBuilder, getOp, randomTensor, typeOf, type HostTensor, type Kernel, type KernelTarget, type TensorType } from '../src/index.js';
import { MATMUL_VARIANTS, matmulKernel, matmulProblem, type MatmulAttrs, type MatmulVariant } from '../src/ops/defs/matmul.js';
import { blocked, subgroupBlocked, type BlockShape, type SgShape } from '../src/ops/defs/matmul-kernels.js';
import { checkAgainstReference, expectClose } from './helpers.js';
import { checkGradients } from './gradcheck.js';
import { gpu } from './setup.js';

const op = getOp('matmul');
const outType = (a: HostTensor, b: HostTensor, attrs: MatmulAttrs): TensorType => op.type([typeOf(a), typeOf(b)], attrs, { shape: [], dtype: 'f32' });

/** Runs one kernel on the device. */
async function runKernel(kernel: Kernel, a: HostTensor, b: HostTensor, out: TensorType): Promise<HostTensor> {
  const ctx = await gpu();
  const pipeline = await ctx.pipeline(kernel.code, 3, kernel.variant);
  const ga = ctx.upload(a), gb = ctx.upload(b), go = ctx.allocate(out);
  try {
    await ctx.submit((pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, ctx.bindGroup(3, [ga.buffer, gb.buffer, go.buffer]));
      pass.dispatchWorkgroups(...kernel.workgroups);
    }, kernel.variant);
    return await ctx.download(go);
  } finally {
    for (const x of [ga, gb, go]) ctx.free(x);
  }
}

/** fp32 tolerance: 1e-5 relative, with an absolute floor scaled to the typical |output| ~ sqrt(K). */
const tolFor = (K: number) => ({ rel: 1e-5, abs: 1e-5 * Math.sqrt(Math.max(K, 1)) });

/** Random operands for op(A)[M,K]·op(B)[K,N]: stored [..., M, K] / [..., K, N], swapped where transposed. */
function operands(batchA: number[], batchB: number[], [M, K, N]: readonly number[], attrs: MatmulAttrs, seed: number): [HostTensor, HostTensor] {
  const a = randomTensor([...batchA, ...(attrs.transA ? [K, M] : [M, K])], seed);
  const b = randomTensor([...batchB, ...(attrs.transB ? [N, K] : [K, N])], seed + 1);
  return [a, b];
}

/** Runs `make(...)`'s kernel (default: a forced variant) on the operands and compares with the reference. */
async function check(a: HostTensor, b: HostTensor, attrs: MatmulAttrs, kernel: (target: KernelTarget) => Kernel): Promise<void> {
  const out = outType(a, b, attrs);
  const expected = op.reference!([a, b], attrs, out);
  const k = kernel((await gpu()).target);
  const K = attrs.transA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
  expectClose(await runKernel(k, a, b, out), expected, tolFor(K), `${k.variant} ${tag(attrs)} A[${a.shape}] B[${b.shape}]`);
}

const forced = (variant: MatmulVariant | 'auto', a: HostTensor, b: HostTensor, attrs: MatmulAttrs) =>
  (target: KernelTarget) => matmulKernel({ inputs: [typeOf(a), typeOf(b)], output: outType(a, b, attrs), attrs, target }, variant);

const TRANSPOSES: MatmulAttrs[] = [
  { transA: false, transB: false }, { transA: true, transB: false }, { transA: false, transB: true }, { transA: true, transB: true },
];
const [NN, TN, NT, TT] = TRANSPOSES;
const tag = (x: MatmulAttrs) => `${x.transA ? 'T' : 'N'}${x.transB ? 'T' : 'N'}`;

/** Skips where the adapter lacks subgroups (the variant then is never chosen). */
async function needsSubgroups(ctx: Mocha.Context, variant: MatmulVariant | 'auto'): Promise<void> {
  if (variant === 'subgroup' && !(await gpu()).target.subgroups) ctx.skip();
}

describe('matmul kernels vs the CPU reference', () => {
  // [M, K, N]: M = N = K = 1; M = 1 with K < 4 (no full k step); N < 4; tails everywhere;
  // 16-byte aligned rows with a long K (the vec4 paths); M = 2 with aligned K and N. The other
  // transposes change only how operands are indexed, so they get the three hardest shapes.
  const all = [[1, 1, 1], [1, 3, 17], [17, 65, 3], [65, 127, 17], [36, 300, 132], [2, 64, 36]];
  const some = [[1, 3, 17], [65, 127, 17], [36, 300, 132]];
  for (const variant of [...MATMUL_VARIANTS, 'auto'] as const) {
    for (const attrs of TRANSPOSES) {
      const shapes = attrs === NN ? all : some;
      it(`${variant} ${tag(attrs)} on ${shapes.length} odd and aligned shapes`, async function () {
        await needsSubgroups(this, variant);
        let seed = 10;
        for (const s of shapes) {
          const [a, b] = operands([], [], s, attrs, (seed += 2));
          await check(a, b, attrs, forced(variant, a, b, attrs));
        }
      });
    }
    it(`${variant} broadcasts batch dims`, async function () {
      await needsSubgroups(this, variant);
      const cases: [number[], number[], MatmulAttrs, number[]][] = [
        [[2, 3], [], NN, [5, 7, 9]], // shared weight: folded into one (2*3*5) x 7 x 9 GEMM
        [[2, 3], [], TN, [8, 12, 16]], // a transposed A cannot fold
        [[1], [4], TT, [5, 7, 9]],
        [[2, 1], [3], NT, [8, 12, 16]],
      ];
      let seed = 100;
      for (const [ba, bb, attrs, s] of cases) {
        const [a, b] = operands(ba, bb, s, attrs, (seed += 2));
        await check(a, b, attrs, forced(variant, a, b, attrs));
      }
    });
  }

  it('K = 0 gives zeros with every variant', async function () {
    const [a, b] = operands([], [], [3, 0, 5], NN, 7);
    for (const variant of MATMUL_VARIANTS) {
      if (variant !== 'subgroup' || (await gpu()).target.subgroups) await check(a, b, NN, forced(variant, a, b, NN));
    }
  });

  // The size-based choice gives small blocks on small shapes: the big blocks are forced here.
  const big: [string, SgShape | BlockShape, MatmulAttrs, number[]][] = [
    ['subgroup 32x64 k2', { rm: 32, cols: 8, kc: 2, lanes: 8 }, TT, [70, 45, 130]],
    ['subgroup 32x32 k2', { rm: 32, cols: 4, kc: 2, lanes: 8 }, NN, [70, 45, 130]],
    ['blocked 16x8 vec4', { rm: 16, cn: 2, wx: 8, wy: 1, vec: true }, NN, [64, 36, 72]],
    ['blocked 16x8 vec4, transposed A', { rm: 16, cn: 2, wx: 8, wy: 1, vec: true }, TN, [36, 50, 12]],
  ];
  for (const [name, shape, attrs, s] of big) {
    it(`${name} ${tag(attrs)} on a batch of ${s.join('x')}`, async function () {
      if ('lanes' in shape && !(await gpu()).target.subgroups) this.skip();
      const [a, b] = operands([2], [], s, attrs, 200);
      const p = matmulProblem(a.shape, b.shape, attrs);
      await check(a, b, attrs, (target) => ('lanes' in shape ? subgroupBlocked(p, shape, target, 'subgroup') : blocked(p, shape, target, 'blocked')));
    });
  }

  it('subgroup kernel: 4-lane workgroups, and the fallback when a workgroup spans subgroups', async function () {
    if (!(await gpu()).target.subgroups) this.skip();
    // On llvmpipe (8-lane subgroups) 4 lanes still form one subgroup; 16 lanes span two and take the plain loop.
    let seed = 300;
    for (const lanes of [4, 16]) {
      for (const attrs of lanes === 4 ? [NN] : [NN, TT]) {
        const [a, b] = operands([], [], [17, 33, 70], attrs, (seed += 2));
        const p = matmulProblem(a.shape, b.shape, attrs);
        await check(a, b, attrs, (target) => subgroupBlocked(p, { rm: 16, cols: 4, kc: 2, lanes }, target, `subgroup.lanes${lanes}`));
      }
    }
  });

  it('chooses variants by target and shape', () => {
    const name = (kind: 'cpu' | 'gpu', subgroups: boolean, a: number[], b: number[]) =>
      matmulKernel({ inputs: [{ shape: a, dtype: 'f32' }, { shape: b, dtype: 'f32' }], output: { shape: [], dtype: 'f32' }, attrs: NN,
        target: { ...DEFAULT_TARGET, kind, subgroups, maxInvocationsPerWorkgroup: 256, maxWorkgroupStorageSize: 16384 } }).variant;
    expect(name('cpu', true, [1024, 1024], [1024, 1024])).to.equal('matmul.subgroup32x64');
    expect(name('cpu', true, [4, 64, 128], [128, 64])).to.equal('matmul.subgroup16x32'); // batch folded into M = 256
    expect(name('cpu', true, [5, 1024], [1024, 512])).to.equal('matmul.subgroup8x32');
    expect(name('cpu', true, [16, 16], [16, 16])).to.equal('matmul.naive');
    expect(name('cpu', false, [512, 512], [512, 512])).to.equal('matmul.blocked16x8(a:k4,b:n4,out:v4)');
    expect(name('cpu', false, [512, 511], [511, 512])).to.equal('matmul.blocked16x8(a:s,b:n4,out:v4)');
    expect(name('cpu', false, [1, 4096], [4096, 512])).to.match(/^matmul\.skinny1x8/);
    expect(name('gpu', true, [64, 64], [64, 64])).to.equal('matmul.tiled64x64x16');
    expect(name('gpu', true, [1, 64], [64, 64])).to.equal('matmul.naive');
  });

  it('runs through the graph executor on both targets', async () => {
    const a = randomTensor([2, 3, 33, 40], 7), w = randomTensor([40, 24], 8);
    for (const kind of ['cpu', 'gpu'] as const) {
      await checkAgainstReference((b) => b.matmul(b.input('a', a.shape), b.input('w', w.shape)), { a, w }, tolFor(40), undefined, { kind });
    }
  });

  it('rejects mismatched K, naming both shapes', () => {
    const b = new GraphBuilder();
    expect(() => b.matmul(b.input('a', [2, 3, 5]), b.input('w', [4, 6]))).to.throw(/\[2,3,5\].*\[4,6\].*K = 5 vs 4/);
    expect(() => b.matmul(b.input('a', [5, 3]), b.input('w', [6, 4]), { transA: true, transB: true })).to.throw(/\[5,3\].*\[6,4\].*K = 5 vs 4/);
    expect(() => b.matmul(b.input('a', [2, 3, 5]), b.input('w', [3, 5, 6]))).to.throw(/do not broadcast/);
    expect(() => b.matmul(b.input('a', [5]), b.input('w', [5, 6]))).to.throw(/rank >= 2/);
  });

  it('counts 2·batch·M·N·K flops', () => {
    const inputs = [{ shape: [2, 3, 4, 5], dtype: 'f32' as const }, { shape: [5, 6], dtype: 'f32' as const }];
    const out = op.type(inputs, NN, { shape: [], dtype: 'f32' });
    expect(op.cost(inputs, out, NN)).to.deep.equal({ flops: 2 * 6 * 4 * 6 * 5, bytes: 4 * (120 + 30 + 144) });
  });
});

describe('matmul gradient', () => {
  const grad = (ba: number[], bb: number[], attrs: MatmulAttrs, seed: number) => {
    const [a, b] = operands(ba, bb, [3, 5, 4], attrs, seed);
    return checkGradients((g) => g.matmul(g.input('a', a.shape), g.input('b', b.shape), attrs), { a, b });
  };
  for (const attrs of TRANSPOSES) it(`transA=${attrs.transA} transB=${attrs.transB}`, () => grad([], [], attrs, 40));
  it('shared weight over a batch (dB folded into one GEMM)', async () => {
    await grad([2, 3], [], NN, 50);
    await grad([2, 3], [], NT, 52);
    await grad([1, 3], [1], NN, 54);
  });
  it('broadcast batch on both sides', async () => {
    await grad([2, 1], [3], TN, 60);
    await grad([2, 1], [3], TT, 62);
    await grad([4], [1, 4], NN, 64);
  });
});
