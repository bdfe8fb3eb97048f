import { expect } from 'chai';
import { GraphBuilder, getOp, hostTensor } from '../src/index.js';
import { MASK_NEG } from '../src/ops/defs/masks.js';
import { checkAgainstReference } from './helpers.js';

const exact = { rel: 0, abs: 0 };
const N = MASK_NEG;

describe('attention masks on WebGPU vs CPU reference (exact)', () => {
  it('causal_mask, square: query i sees keys 0..i', async () => {
    const { gpu } = await checkAgainstReference((b) => b.causalMask(3, 3), {}, exact);
    expect([...gpu.data]).to.deep.equal([0, N, N, 0, 0, N, 0, 0, 0]);
  });

  it('causal_mask with a cache (keys > queries): the queries are the last positions', async () => {
    const { gpu } = await checkAgainstReference((b) => b.causalMask(2, 4), {}, exact);
    expect([...gpu.data]).to.deep.equal([0, 0, 0, N, 0, 0, 0, 0]);
  });

  it('causal_mask with fewer keys than queries masks whole rows with a finite value', async () => {
    const { gpu } = await checkAgainstReference((b) => b.causalMask(3, 2), {}, exact);
    expect([...gpu.data]).to.deep.equal([N, N, 0, N, 0, 0]);
    expect(gpu.data.every(Number.isFinite)).to.equal(true);
  });

  it('causal_mask on odd and folded grids, and empty', async () => {
    await checkAgainstReference((b) => b.causalMask(37, 53), {}, exact);
    await checkAgainstReference((b) => b.causalMask(29, 31), {}, exact, new Map(), { maxWorkgroupsPerDimension: 2, maxInvocationsPerWorkgroup: 8 });
    await checkAgainstReference((b) => b.causalMask(0, 5), {}, exact);
  });

  for (const dtype of ['i32', 'f32'] as const) {
    it(`padding_mask from an ${dtype} mask gives [B,1,1,S]`, async () => {
      const m = hostTensor([2, 3], dtype, [1, 1, 0, 0, 1, 1]);
      const { gpu } = await checkAgainstReference((b) => b.paddingMask(b.input('m', [2, 3], dtype)), { m }, exact);
      expect(gpu.shape).to.deep.equal([2, 1, 1, 3]);
      expect([...gpu.data]).to.deep.equal([0, 0, N, N, 0, 0]);
    });
  }

  it('rejects a bad padding mask and negative sizes', () => {
    const b = new GraphBuilder();
    expect(() => b.paddingMask(b.input('m', [2, 3, 4], 'i32'))).to.throw(/\[B,S\], got i32\[2,3,4\]/);
    expect(() => b.causalMask(-1, 3)).to.throw(/queries >= 0/);
  });

  it('masks have no differentiable inputs', () => {
    const b = new GraphBuilder();
    const m = b.input('m', [2, 3]);
    const out = b.paddingMask(m);
    expect(getOp('padding_mask').grad!(b, { inputs: [m], output: out, attrs: {}, needs: [true] }, out)).to.deep.equal([null]);
    expect(getOp('causal_mask').grad!(b, { inputs: [], output: out, attrs: {}, needs: [] }, out)).to.deep.equal([]);
  });
});
