import { expect } from 'chai';
import { CpuExecutor, GraphBuilder, hostTensor, randomTensor } from '../src/index.js';
import { appendBackward } from '../src/passes/autodiff.js';
import { checkAgainstReference } from './helpers.js';
import { checkGradients } from './gradcheck.js';

const ops = ['sum', 'mean', 'max'] as const;
const targets = [{ kind: 'cpu' }, { kind: 'gpu' }] as const;
// Sums of n normals are ~sqrt(n) in size with cancellation, so a small absolute slack joins the
// relative bound; max picks an element and is exact.
const tol = { rel: 1e-5, abs: 1e-5 };

describe('reductions on WebGPU vs CPU reference', () => {
  for (const target of targets) {
    describe(`${target.kind} variant`, () => {
      for (const cols of [1, 3, 7, 257, 1000]) {
        it(`sum, mean, max over the last axis of [5,${cols}]`, async () => {
          const x = randomTensor([5, cols], cols);
          for (const op of ops) await checkAgainstReference((b) => b[op](b.input('x', x.shape), [-1]), { x }, tol, undefined, target);
        });
      }

      const x = randomTensor([3, 4, 5], 7);
      for (const axes of [[0], [1], [2], [0, 2], [-1, -3], [0, 1, 2], [1, 2], []]) {
        for (const keepdims of [false, true]) {
          it(`axes [${axes}] of [3,4,5]${keepdims ? ', keepdims' : ''}`, async () => {
            for (const op of ops) await checkAgainstReference((b) => b[op](b.input('x', x.shape), axes, keepdims), { x }, tol, undefined, target);
          });
        }
      }

      it('size-1 axes and a rank-0 input', async () => {
        const y = randomTensor([2, 3, 1, 4], 8);
        for (const op of ops) {
          await checkAgainstReference((b) => b[op](b.input('y', y.shape), [1, 2]), { y }, tol, undefined, target);
          await checkAgainstReference((b) => b[op](b.input('y', y.shape), [2]), { y }, tol, undefined, target);
        }
        const s = hostTensor([], 'f32', [2.5]);
        await checkAgainstReference((b) => b.max(b.input('s', []), []), { s }, tol, undefined, target);
      });

      it('more rows than fit in one grid dimension', async () => {
        const y = randomTensor([70000, 2], 9);
        await checkAgainstReference((b) => b.sum(b.input('y', y.shape), [1]), { y }, tol, undefined, target);
      });

      it('propagates NaN and Inf like the reference', async () => {
        const v = hostTensor([4, 3], 'f32', [NaN, 1, 2, Infinity, 1, 2, -Infinity, -Infinity, -Infinity, Infinity, -Infinity, 0]);
        for (const op of ops) {
          const { gpu } = await checkAgainstReference((b) => b[op](b.input('v', v.shape), [1]), { v }, tol, undefined, target);
          expect(Number.isNaN(gpu.data[0]), `${op} of a row with NaN`).to.equal(true);
        }
        const { gpu } = await checkAgainstReference((b) => b.max(b.input('v', v.shape), [1]), { v }, tol, undefined, target);
        expect([...gpu.data.slice(1)]).to.deep.equal([Infinity, -Infinity, Infinity]);
      });
    });
  }

  it('sums an empty extent to 0', async () => {
    const e = hostTensor([3, 0], 'f32', []);
    const { gpu } = await checkAgainstReference((b) => b.sum(b.input('e', e.shape), [1]), { e });
    expect([...gpu.data]).to.deep.equal([0, 0, 0]);
  });

  it('rejects bad axes, naming the shape', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [3, 4, 5]);
    expect(() => b.sum(x, [3])).to.throw(/axis 3 is out of range for shape \[3,4,5\]/);
    expect(() => b.sum(x, [-4])).to.throw(/axis -4 is out of range/);
    expect(() => b.max(x, [1, -2])).to.throw(/repeat an axis of shape \[3,4,5\]/);
    expect(() => b.mean(b.input('e', [3, 0]), [1])).to.throw(/no elements to reduce/);
    expect(() => b.sum(b.input('i', [3], 'i32'), [0])).to.throw(/float tensor, got i32\[3\]/);
  });
});

describe('reduction gradient rules', () => {
  const x = randomTensor([3, 4, 5], 21);
  for (const op of ops) {
    for (const [axes, keepdims] of [[[1], false], [[0, 2], true], [[-1], false], [[], false], [[0, 1, 2], false]] as const) {
      it(`${op} over [${axes}]${keepdims ? ', keepdims' : ''}`, () => checkGradients((b) => b[op](b.input('x', x.shape), axes, keepdims), { x }));
    }
  }

  it('max splits the cotangent equally among tied maxima', () => {
    const b = new GraphBuilder();
    const v = b.input('v', [2, 3]);
    const dy = b.input('dy', [2]);
    const { grads } = appendBackward(b, b.max(v, [1]), dy, [v.id]);
    b.output('g', grads.get(v.id)!);
    const feeds = { v: hostTensor([2, 3], 'f32', [1, 5, 5, 2, 7, 3]), dy: hostTensor([2], 'f32', [4, 10]) };
    const out = new CpuExecutor('f64').runSync(b.graph, feeds, new Map()).get('g')!;
    expect([...out.data]).to.deep.equal([0, 2, 2, 0, 10, 0]);
  });
});
