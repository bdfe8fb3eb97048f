import { expect } from 'chai';
import { hostTensor, randomTensor } from '../src/index.js';
import { checkAgainstReference } from './helpers.js';

describe('element-wise ops on WebGPU vs CPU reference', () => {
  const x = randomTensor([3, 5, 7], 1, { scale: 2 });
  const y = randomTensor([5, 1], 2, { scale: 2 });
  const exact = { rel: 0, abs: 0 };

  for (const op of ['add', 'sub', 'mul'] as const) {
    it(`${op} broadcasts [3,5,7] with [5,1] exactly`, async () => {
      await checkAgainstReference((b) => b[op](b.input('x', x.shape), b.input('y', y.shape)), { x, y }, exact);
    });
  }

  for (const op of ['exp', 'tanh', 'sigmoid', 'gelu', 'relu', 'neg'] as const) {
    it(`${op} on odd shape [3,5,7]`, async () => {
      await checkAgainstReference((b) => b[op](b.input('x', x.shape)), { x }, { rel: 1e-5, abs: 1e-6 });
    });
  }

  it('propagates NaN and Inf like the reference', async () => {
    const special = hostTensor([6], 'f32', [NaN, Infinity, -Infinity, 0, -1, 1]);
    for (const op of ['relu', 'exp', 'neg', 'tanh', 'sigmoid'] as const) {
      const { gpu } = await checkAgainstReference((b) => b[op](b.input('x', [6])), { x: special }, { rel: 1e-6 });
      expect(Number.isNaN(gpu.data[0]), `${op}(NaN)`).to.equal(true);
    }
  });
});

describe('non-finite constants in kernels', () => {
  it('a const filled with -Inf, +Inf and NaN compiles and matches the reference', async () => {
    for (const v of [-Infinity, Infinity, NaN]) {
      const { gpu } = await checkAgainstReference((b) => b.add(b.input('x', [3]), b.constant(v, [3])), { x: hostTensor([3], 'f32', [1, 2, 3]) });
      expect(Object.is(gpu.data[0], v) || (Number.isNaN(v) && Number.isNaN(gpu.data[0]))).to.equal(true);
    }
  });
});
