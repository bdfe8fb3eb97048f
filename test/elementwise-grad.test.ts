import { expect } from 'chai';
import { randomTensor } from '../src/index.js';
import { erfRef } from '../src/ops/defs/elementwise.js';
import { checkGradients } from './gradcheck.js';

describe('element-wise gradient rules (f64 finite differences; WebGPU vs CPU)', () => {
  const x = randomTensor([4, 6], 11);
  const pos = { ...x, data: x.data.map((v) => Math.abs(v) + 0.5) };
  const y = randomTensor([6], 12);
  for (const op of ['exp', 'tanh', 'sigmoid', 'gelu', 'relu', 'neg'] as const) {
    it(op, () => checkGradients((b) => b[op](b.input('x', x.shape)), { x }));
  }
  it('log and sqrt (positive inputs)', async () => {
    await checkGradients((b) => b.log(b.input('x', x.shape)), { x: pos });
    await checkGradients((b) => b.sqrt(b.input('x', x.shape)), { x: pos });
  });
  it('scale', () => checkGradients((b) => b.scale(b.input('x', x.shape), -1.5), { x }));
});

describe('gelu_erf (BERT)', () => {
  it('matches erf-based GELU and its gradient', async () => {
    const x = randomTensor([5, 9], 21, { scale: 2 });
    await checkGradients((b) => b.geluErf(b.input('x', x.shape)), { x });
  });
  it('agrees with the true erf to 1e-6', () => {
    // erf(0.5), erf(1), erf(2) from tables.
    for (const [x, e] of [[0.5, 0.5204998778], [1, 0.8427007929], [2, 0.9953222650], [-1, -0.8427007929]]) {
      expect(Math.abs(erfRef(x) - e)).to.be.below(1e-6);
    }
  });
});
