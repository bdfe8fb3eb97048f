import { expect } from 'chai';
import { GraphBuilder, hostTensor, randomTensor } from '../src/index.js';
import { checkAgainstReference } from './helpers.js';
import { checkGradients } from './gradcheck.js';

const targets = [{ kind: 'cpu' }, { kind: 'gpu' }] as const;
const tol = { rel: 1e-5, abs: 1e-6 };

describe('softmax and layernorm on WebGPU vs CPU reference', () => {
  for (const target of targets) {
    describe(`${target.kind} variant`, () => {
      for (const cols of [1, 3, 7, 257, 1000]) {
        it(`rows of ${cols}`, async () => {
          const x = randomTensor([3, 2, cols], cols, { scale: 3 });
          const g = randomTensor([cols], cols + 1);
          const be = randomTensor([cols], cols + 2);
          const dy = randomTensor(x.shape, cols + 3);
          await checkAgainstReference((b) => b.softmax(b.input('x', x.shape)), { x }, tol, undefined, target);
          await checkAgainstReference((b) => b.layernorm(b.input('x', x.shape), b.input('g', g.shape), b.input('be', be.shape), 1e-5), { x, g, be }, tol, undefined, target);
          // The backward ops on their own (y must be a softmax output for softmax_grad to mean anything).
          await checkAgainstReference((b) => b.op('softmax_grad', [b.softmax(b.input('x', x.shape)), b.input('dy', dy.shape)]), { x, dy }, tol, undefined, target);
          await checkAgainstReference((b) => b.op('layernorm_grad', [b.input('x', x.shape), b.input('g', g.shape), b.input('dy', dy.shape)], { eps: 1e-5 }),
            { x, g, dy }, tol, undefined, target);
        });
      }

      it('softmax with a causal mask [S,S] and a padding mask [B,1,1,S]', async () => {
        const x = randomTensor([2, 3, 5, 5], 31);
        const causal = hostTensor([5, 5], 'f32', Array.from({ length: 25 }, (_, i) => (i % 5 <= Math.floor(i / 5) ? 0 : -1e9)));
        const pad = hostTensor([2, 1, 1, 5], 'f32', [0, 0, 0, -1e9, -1e9, 0, 0, 0, 0, 0]);
        await checkAgainstReference((b) => b.softmax(b.input('x', x.shape), b.input('m', causal.shape)), { x, m: causal }, tol, undefined, target);
        await checkAgainstReference((b) => b.softmax(b.input('x', x.shape), b.input('m', pad.shape)), { x, m: pad }, tol, undefined, target);
      });

      it('propagates NaN and Inf like the reference', async () => {
        // Rows: a NaN, a +inf, all -inf, some -inf (finite result), all -1e9 (uniform).
        const x = hostTensor([5, 3], 'f32', [NaN, 1, 2, Infinity, 1, 2, -Infinity, -Infinity, -Infinity, -Infinity, 1, 2, -1e9, -1e9, -1e9]);
        const { gpu } = await checkAgainstReference((b) => b.softmax(b.input('x', x.shape)), { x }, tol, undefined, target);
        expect([...gpu.data.slice(0, 9)].every(Number.isNaN), 'rows with NaN, +inf, all -inf').to.equal(true);
        expect(gpu.data[9]).to.equal(0);
        expect([...gpu.data.slice(12)].map((v) => v.toFixed(6))).to.deep.equal(['0.333333', '0.333333', '0.333333']);
        const ones = hostTensor([3], 'f32', [1, 1, 1]);
        const zeros = hostTensor([3], 'f32', [0, 0, 0]);
        const ln = await checkAgainstReference((b) => b.layernorm(b.input('x', x.shape), b.input('g', [3]), b.input('be', [3]), 1e-5), { x, g: ones, be: zeros }, tol, undefined, target);
        expect([...ln.gpu.data.slice(0, 3)].every(Number.isNaN), 'layernorm row with NaN').to.equal(true);
      });
    });
  }

  it('rejects bad shapes, naming them', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3, 4]);
    expect(() => b.layernorm(x, b.input('g', [3]), b.input('be', [4]), 1e-5)).to.throw(/gamma has shape \[3\], expected \[4\] \(the last axis of x \[2,3,4\]\)/);
    expect(() => b.layernorm(x, b.input('g2', [4]), b.input('be2', [2, 4]), 1e-5)).to.throw(/beta has shape \[2,4\], expected \[4\]/);
    expect(() => b.softmax(x, b.input('m', [3, 3]))).to.throw(/mask \[3,3\] does not broadcast to x \[2,3,4\]/);
    expect(() => b.softmax(b.input('s', []))).to.throw(/rank >= 1/);
    expect(() => b.op('softmax', [x, x, x])).to.throw(/optional mask, got 3 inputs/);
    expect(() => b.softmax(b.input('i', [2], 'i32'))).to.throw(/float tensor, got i32\[2\]/);
  });
});

describe('softmax and layernorm gradient rules', () => {
  const x = randomTensor([2, 3, 6], 41);
  const mask = randomTensor([3, 1], 42);
  const g = randomTensor([6], 43);
  const be = randomTensor([6], 44);
  it('softmax', () => checkGradients((b) => b.softmax(b.input('x', x.shape)), { x }));
  it('softmax with a broadcast mask (mask gets the unbroadcast gradient)', () =>
    checkGradients((b) => b.softmax(b.input('x', x.shape), b.input('mask', mask.shape)), { x, mask }));
  it('layernorm wrt x, gamma and beta', () =>
    checkGradients((b) => b.layernorm(b.input('x', x.shape), b.input('g', g.shape), b.input('be', be.shape), 1e-5), { x, g, be }));
  it('layernorm of a rank-1 input', () => {
    const v = randomTensor([6], 45);
    return checkGradients((b) => b.layernorm(b.input('v', v.shape), b.input('g', g.shape), b.input('be', be.shape), 1e-3), { v, g, be });
  });
});
