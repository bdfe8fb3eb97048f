import { randomTensor } from '../src/index.js';
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
