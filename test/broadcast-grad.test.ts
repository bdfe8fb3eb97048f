import { randomTensor, type HostTensor } from '../src/index.js';
import { checkGradients } from './gradcheck.js';

// The binary element-wise rules sum the cotangent back over broadcast axes (unbroadcast:
// reduce_sum + reshape); checked here with the broadcast operand on either side.
describe('binary element-wise gradient rules with broadcasting', () => {
  const x = randomTensor([3, 4, 5], 71);
  // Divisors kept away from 0 so finite differences stay well conditioned.
  const awayFromZero = (t: HostTensor): HostTensor => ({ ...t, data: t.data.map((v) => Math.sign(v || 1) * (Math.abs(v) + 0.5)) });
  for (const shape of [[4, 1], [5]]) {
    const y = randomTensor(shape, 72 + shape.length);
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      it(`${op} of [3,4,5] and [${shape}]`, () => {
        const feeds = { x: op === 'div' ? awayFromZero(x) : x, y: op === 'div' ? awayFromZero(y) : y };
        return checkGradients((b) => b[op](b.input('x', x.shape), b.input('y', y.shape)), feeds);
      });
      it(`${op} of [${shape}] and [3,4,5]`, () => {
        const feeds = { x: op === 'div' ? awayFromZero(x) : x, y: op === 'div' ? awayFromZero(y) : y };
        return checkGradients((b) => b[op](b.input('y', y.shape), b.input('x', x.shape)), feeds);
      });
    }
  }
});
