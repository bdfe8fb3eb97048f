import { expect } from 'chai';
import {
  DEFAULT_TARGET, GraphBuilder, getOp, hostTensor, nodeAttrs, randomTensor, type DType, type HostTensor, type Ref,
} from '../src/index.js';
import { checkAgainstReference } from './helpers.js';
import { gpu } from './setup.js';

// Data-movement ops copy values, so the device must agree with the reference bit for bit.
const exact = { rel: 0, abs: 0 };
// Tiny workgroups and a tiny per-dimension limit force the 2-D folded grid on any output over 24 elements.
const folded = { maxWorkgroupsPerDimension: 3, maxInvocationsPerWorkgroup: 8 };

function rand(shape: number[], seed: number, dtype: DType = 'f32'): HostTensor {
  return randomTensor(shape, seed, dtype === 'i32' ? { dtype, low: -1000, high: 1000 } : { dtype });
}

/** Runs `op` on one input `x` of the given shape and dtype against the reference. */
async function check1(shape: number[], dtype: DType, op: (b: GraphBuilder, x: Ref) => Ref, seed = 1, target?: object): Promise<HostTensor> {
  const x = rand(shape, seed, dtype);
  return (await checkAgainstReference((b) => op(b, b.input('x', shape, dtype)), { x }, exact, new Map(), target)).gpu;
}

describe('shape ops on WebGPU vs CPU reference (exact)', () => {
  describe('reshape', () => {
    it('keeps row-major order and infers -1', async () => {
      const y = await check1([2, 3, 5], 'f32', (b, x) => b.reshape(x, [5, -1]));
      expect(y.shape).to.deep.equal([5, 6]);
    });
    it('to and from rank 0, and i32 at rank 5', async () => {
      await check1([], 'f32', (b, x) => b.reshape(x, [1, 1, 1]));
      await check1([1, 1], 'f32', (b, x) => b.reshape(x, []));
      await check1([3, 7], 'i32', (b, x) => b.reshape(x, [1, 3, 1, 7, 1]));
    });
    it('rejects a size mismatch naming both shapes', () => {
      const b = new GraphBuilder();
      const x = b.input('x', [2, 3]);
      expect(() => b.reshape(x, [4, 2])).to.throw(/\[2,3\].*\[4,2\]/);
      expect(() => b.reshape(x, [4, -1])).to.throw(/\[2,3\].*\[4,-1\]/);
      expect(() => b.reshape(x, [-1, -1])).to.throw(/one -1/);
    });
  });

  describe('permute', () => {
    const cases: [number[], number[]][] = [
      [[], []], [[7], [0]], [[3, 5], [1, 0]], [[2, 3, 5], [2, 0, 1]],
      [[3, 1, 5, 2], [3, 1, 0, 2]], [[2, 3, 1, 5, 3], [4, 2, 0, 3, 1]],
    ];
    for (const [shape, perm] of cases) {
      it(`rank ${shape.length}: [${shape}] by (${perm})`, () => check1(shape, 'f32', (b, x) => b.permute(x, perm)));
    }
    it('i32, negative axes, transpose, and a folded grid', async () => {
      await check1([3, 4, 5], 'i32', (b, x) => b.permute(x, [-1, 0, -2]));
      await check1([2, 3, 7], 'f32', (b, x) => b.transpose(x));
      await check1([7, 9, 11], 'f32', (b, x) => b.permute(x, [2, 0, 1]), 3, folded);
    });
    it('rejects a non-permutation', () => {
      const b = new GraphBuilder();
      expect(() => b.permute(b.input('x', [2, 3, 4]), [0, 0, 1])).to.throw(/perm \[0,0,1\].*\[2,3,4\]/);
      expect(() => b.permute(b.input('y', [2, 3]), [1, 0, 2])).to.throw(/not a permutation/);
    });
  });

  describe('broadcast_to', () => {
    it('adds leading axes and stretches size-1 axes', async () => {
      await check1([5, 1], 'f32', (b, x) => b.broadcastTo(x, [3, 5, 7]));
      await check1([], 'f32', (b, x) => b.broadcastTo(x, [2, 3]));
      await check1([1, 3, 1, 5, 1], 'f32', (b, x) => b.broadcastTo(x, [2, 3, 4, 5, 3]));
      await check1([3, 1], 'i32', (b, x) => b.broadcastTo(x, [2, 3, 5]), 2, folded);
    });
    it('rejects a shape it cannot broadcast to, naming both', () => {
      const b = new GraphBuilder();
      expect(() => b.broadcastTo(b.input('x', [3, 2]), [3, 4])).to.throw(/\[3,2\].*\[3,4\]/);
      expect(() => b.broadcastTo(b.input('y', [3, 1]), [3])).to.throw(/\[3,1\].*\[3\]/);
    });
  });

  describe('concat', () => {
    const run = async (shapes: number[][], axis: number, dtype: DType = 'f32', target?: object): Promise<HostTensor> => {
      const feeds: Record<string, HostTensor> = {};
      shapes.forEach((s, k) => (feeds[`x${k}`] = rand(s, 10 + k, dtype)));
      const build = (b: GraphBuilder): Ref => b.concat(shapes.map((s, k) => b.input(`x${k}`, s, dtype)), axis);
      return (await checkAgainstReference(build, feeds, exact, new Map(), target)).gpu;
    };
    it('along the last, first and a middle axis with odd sizes', async () => {
      expect((await run([[3, 5], [3, 1], [3, 7]], -1)).shape).to.deep.equal([3, 13]);
      await run([[2, 3], [5, 3]], 0);
      await run([[2, 3, 1, 5, 2], [2, 3, 4, 5, 2]], 2);
    });
    it('with a single input, an empty piece, i32 and a folded grid', async () => {
      await run([[4, 3]], 1);
      await run([[2, 0, 3], [2, 5, 3], [2, 1, 3]], -2);
      await run([[3, 2], [3, 5]], 1, 'i32');
      await run([[7, 9], [7, 11]], -1, 'f32', folded);
    });
    it('rejects mismatching dims or dtypes, naming both shapes', () => {
      const b = new GraphBuilder();
      expect(() => b.concat([b.input('a', [2, 3]), b.input('b', [4, 5])], 1)).to.throw(/\[4,5\].*\[2,3\]/);
      expect(() => b.concat([b.input('c', [2, 3]), b.input('d', [2, 3, 1])], 0)).to.throw(/\[2,3,1\].*\[2,3\]/);
      expect(() => b.concat([b.input('e', [2]), b.input('f', [2], 'i32')], 0)).to.throw(/i32\[2\].*f32\[2\]/);
      expect(() => b.concat([b.input('g', [2])], 1)).to.throw(/axis 1 is out of range/);
    });
  });

  describe('slice and pad', () => {
    it('slices odd ranges along positive and negative axes', async () => {
      expect((await check1([5, 7, 3], 'f32', (b, x) => b.slice(x, 1, 2, 7))).shape).to.deep.equal([5, 5, 3]);
      await check1([5, 7, 3], 'f32', (b, x) => b.slice(x, -1, 1, 2));
      await check1([9], 'f32', (b, x) => b.slice(x, 0, 0, 9));
      await check1([4, 6], 'f32', (b, x) => b.slice(x, 0, 2, 2));
      await check1([2, 3, 4, 5, 6], 'i32', (b, x) => b.slice(x, -3, 1, 4));
      await check1([9, 11, 13], 'f32', (b, x) => b.slice(x, 1, 3, 10), 4, folded);
    });
    it('pads with zeros', async () => {
      const y = await check1([2, 3], 'f32', (b, x) => b.pad(x, 1, 2, 1));
      expect([...y.data.slice(0, 6)].map((v, k) => (k < 2 || k === 5 ? v : 0))).to.deep.equal([0, 0, 0, 0, 0, 0]);
      await check1([2, 3, 5], 'i32', (b, x) => b.pad(x, -2, 0, 4));
      await check1([3, 0], 'f32', (b, x) => b.pad(x, 1, 2, 3));
      await check1([7, 9], 'f32', (b, x) => b.pad(x, 0, 5, 6), 5, folded);
    });
    it('rejects ranges outside the axis', () => {
      const b = new GraphBuilder();
      const x = b.input('x', [4, 6]);
      expect(() => b.slice(x, 1, 2, 7)).to.throw(/\[2, 7\).*\[4,6\]/);
      expect(() => b.slice(x, 0, 3, 2)).to.throw(/not within/);
      expect(() => b.slice(x, 0, -1, 2)).to.throw(/not within/);
      expect(() => b.slice(x, 2, 0, 1)).to.throw(/out of range for rank 2/);
      expect(() => b.pad(x, 0, -1, 0)).to.throw(/before >= 0/);
    });
  });

  it('moves values exactly, including NaN, infinities and -0', async () => {
    const x = hostTensor([2, 3], 'f32', [NaN, Infinity, -Infinity, -0, 1e-40, 3.5]);
    const { gpu } = await checkAgainstReference((b) => b.permute(b.input('x', [2, 3]), [1, 0]), { x }, exact);
    expect(Number.isNaN(gpu.data[0])).to.equal(true);
    expect(gpu.data[2]).to.equal(Infinity);
  });

  it('folds launches over 65535 workgroups into a 2-D grid (codegen only)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [4099, 4099]); // 16.8M elements: 65637 workgroups of 256
    const i = b.input('i', [4099], 'i32');
    const big = [
      b.reshape(x, [-1]), b.permute(x, [1, 0]), b.broadcastTo(b.input('r', [4099, 1]), [4099, 4099]),
      b.concat([x, b.input('c', [4099, 1])], 1), b.slice(b.input('s', [4099, 4100]), 1, 1, 4100), b.pad(x, 0, 1, 0),
      b.gather(x, i), b.scatter(x, i, x), b.scatterAdd(x, i, x), b.causalMask(4099, 4099),
      b.paddingMask(b.input('m', [4099, 4099], 'i32')),
    ];
    for (const r of big) {
      const n = b.graph.node(r.id);
      const kernel = getOp(n.op).kernel!({ inputs: n.inputs.map((k) => b.graph.node(k).type), output: n.type, attrs: nodeAttrs(n), target: DEFAULT_TARGET });
      expect(kernel.workgroups[1], n.op).to.be.greaterThan(1);
      expect(kernel.workgroups[0], n.op).to.be.at.most(65535);
      expect(kernel.code, n.op).to.include('gid.y');
    }
  });

  it('moves f16 data bit for bit where the device has shader-f16', async function () {
    if (!(await gpu()).target.f16) this.skip();
    const x = randomTensor([3, 5], 7, { dtype: 'f16' });
    const i = hostTensor([4], 'i32', [2, 0, 7, 1]);
    await checkAgainstReference((b) => {
      const xi = b.input('x', [3, 5], 'f16');
      const g = b.permute(b.gather(xi, b.input('i', [4], 'i32')), [1, 0]);
      const p = b.pad(b.slice(b.permute(xi, [1, 0]), 1, 1, 3), 1, 1, 1);
      return b.concat([g, p, b.reshape(xi, [5, 3]), b.broadcastTo(b.slice(g, 1, 0, 1), [5, 2])], 1);
    }, { x, i }, exact);
  });
});
