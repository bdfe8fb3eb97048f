import { expect } from 'chai';
import { CpuExecutor, GpuExecutor, GraphBuilder, hostTensor, mulberry32, numel, randomTensor, type HostTensor } from '../src/index.js';
import { checkAgainstReference } from './helpers.js';
import { checkGradients } from './gradcheck.js';
import { gpu } from './setup.js';

const targets = [{ kind: 'cpu' }, { kind: 'gpu' }] as const;
const tol = { rel: 1e-5, abs: 1e-6 };
const IGNORE = -100;

/** Labels in [0, classes), about one in five replaced by IGNORE. */
function labelsFor(shape: number[], classes: number, seed: number): HostTensor {
  const rand = mulberry32(seed);
  return hostTensor(shape, 'i32', Array.from({ length: numel(shape) }, () => (rand() < 0.2 ? IGNORE : Math.floor(rand() * classes))));
}

const ce = (lg: HostTensor, lb: HostTensor) => (b: GraphBuilder) => b.crossEntropy(b.input('lg', lg.shape), b.input('lb', lb.shape, 'i32'), IGNORE);

describe('cross-entropy on WebGPU vs CPU reference', () => {
  for (const target of targets) {
    describe(`${target.kind} variant`, () => {
      for (const classes of [1, 3, 7, 257, 1000]) {
        it(`rows of ${classes} classes`, async () => {
          const lg = randomTensor([3, 5, classes], classes, { scale: 3 });
          const lb = labelsFor([3, 5], classes, classes);
          await checkAgainstReference(ce(lg, lb), { lg, lb }, tol, undefined, target);
          // The backward ops on their own.
          const g = hostTensor([], 'f32', [0.37]);
          await checkAgainstReference((b) => b.op('cross_entropy_grad', [b.input('lg', lg.shape), b.input('lb', lb.shape, 'i32'), b.input('g', [])], { ignoreIndex: IGNORE }),
            { lg, lb, g }, tol, undefined, target);
          await checkAgainstReference((b) => b.op('label_count', [b.input('lb', lb.shape, 'i32')], { ignoreIndex: IGNORE, classes }), { lb }, { rel: 0, abs: 0 }, undefined, target);
        });
      }

      it('many rows (several rounds per invocation)', async () => {
        const lg = randomTensor([1500, 9], 51);
        const lb = labelsFor([1500], 9, 52);
        await checkAgainstReference(ce(lg, lb), { lg, lb }, tol, undefined, target);
      });

      it('is 0 when every label is ignored, and its gradient is 0', async () => {
        const lg = randomTensor([4, 3], 53);
        const lb = hostTensor([4], 'i32', [IGNORE, IGNORE, IGNORE, IGNORE]);
        const { gpu } = await checkAgainstReference(ce(lg, lb), { lg, lb }, tol, undefined, target);
        expect(gpu.data[0]).to.equal(0);
        const g = hostTensor([], 'f32', [Infinity]); // dy / 0, as the gradient rule builds it
        const grad = await checkAgainstReference((b) => b.op('cross_entropy_grad', [b.input('lg', lg.shape), b.input('lb', [4], 'i32'), b.input('g', [])], { ignoreIndex: IGNORE }),
          { lg, lb, g }, tol, undefined, target);
        expect([...grad.gpu.data].every((v) => v === 0)).to.equal(true);
      });

      it('treats an out-of-range label as ignored on the device (the reference throws)', async () => {
        const lg = randomTensor([3, 4], 54);
        const bad = hostTensor([3], 'i32', [1, 4, 2]);
        const b = new GraphBuilder();
        b.output('y', ce(lg, bad)(b));
        expect(() => new CpuExecutor('f32').runSync(b.graph, { lg, lb: bad }, new Map())).to.throw(/label 4 at position 1 is outside \[0, 4\) and is not ignoreIndex \(-100\)/);
        const ctx = await gpu();
        const got = (await new GpuExecutor(ctx, { ...ctx.target, ...target }).run(b.graph, { lg, lb: bad }, new Map())).get('y')!;
        const b2 = new GraphBuilder();
        const ignored = hostTensor([3], 'i32', [1, IGNORE, 2]);
        b2.output('y', ce(lg, ignored)(b2));
        const want = new CpuExecutor('f32').runSync(b2.graph, { lg, lb: ignored }, new Map()).get('y')!;
        expect(got.data[0]).to.be.closeTo(want.data[0], 1e-5 * Math.abs(want.data[0]));
      });

      it('propagates NaN and Inf like the reference', async () => {
        const lg = hostTensor([3, 3], 'f32', [NaN, 0, 1, 0, -Infinity, 1, 0, 1, 2]);
        const first = hostTensor([3], 'i32', [0, IGNORE, IGNORE]);
        const nanRow = await checkAgainstReference(ce(lg, first), { lg, lb: first }, tol, undefined, target);
        expect(Number.isNaN(nanRow.gpu.data[0])).to.equal(true);
        const lb = hostTensor([3], 'i32', [IGNORE, 1, 2]);
        const infLabel = await checkAgainstReference(ce(lg, lb), { lg, lb }, tol, undefined, target);
        expect(infLabel.gpu.data[0]).to.equal(Infinity);
      });
    });
  }

  it('rejects bad shapes, naming them', () => {
    const b = new GraphBuilder();
    const lg = b.input('lg', [2, 3, 5]);
    expect(() => b.crossEntropy(lg, b.input('a', [2, 5], 'i32'))).to.throw(/labels are i32\[2,5\], but logits \[2,3,5\] need i32\[2,3\]/);
    expect(() => b.crossEntropy(lg, b.input('f', [2, 3]))).to.throw(/labels are f32\[2,3\]/);
    expect(() => b.crossEntropy(b.input('s', []), b.input('z', [], 'i32'))).to.throw(/logits must be a float tensor \[\.\.\., C\], got f32\[\]/);
  });
});

describe('cross-entropy gradient rule', () => {
  it('logits [6,5] with ignored rows', () => {
    const lg = randomTensor([6, 5], 61);
    const lb = hostTensor([6], 'i32', [0, 4, IGNORE, 2, 2, IGNORE]);
    return checkGradients((b) => b.crossEntropy(b.input('lg', lg.shape), b.input('lb', [6], 'i32'), IGNORE), { lg, lb });
  });
  it('logits [2,3,4] with a custom ignoreIndex', () => {
    const lg = randomTensor([2, 3, 4], 62);
    const lb = hostTensor([2, 3], 'i32', [3, 0, -1, 1, 2, 0]);
    return checkGradients((b) => b.crossEntropy(b.input('lg', lg.shape), b.input('lb', [2, 3], 'i32'), -1), { lg, lb });
  });
});
