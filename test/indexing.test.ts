import { expect } from 'chai';
import { GraphBuilder, hostTensor, randomTensor, type DType, type HostTensor, type Ref } from '../src/index.js';
import { checkAgainstReference } from './helpers.js';

const exact = { rel: 0, abs: 0 };
const folded = { maxWorkgroupsPerDimension: 3, maxInvocationsPerWorkgroup: 8 };

function table(shape: number[], seed: number, dtype: DType = 'f32'): HostTensor {
  return randomTensor(shape, seed, dtype === 'i32' ? { dtype, low: -1000, high: 1000 } : { dtype });
}
const ids = (shape: number[], values: number[]): HostTensor => hostTensor(shape, 'i32', values);

async function gather(t: HostTensor, idx: HostTensor, axis: number, target?: object): Promise<HostTensor> {
  const build = (b: GraphBuilder): Ref => b.gather(b.input('t', t.shape, t.dtype), b.input('i', idx.shape, 'i32'), axis);
  return (await checkAgainstReference(build, { t, i: idx }, exact, new Map(), target)).gpu;
}

type Scatter = 'scatter' | 'scatterAdd';
async function scatter(op: Scatter, base: HostTensor, idx: HostTensor, upd: HostTensor, axis: number, target?: object): Promise<HostTensor> {
  const build = (b: GraphBuilder): Ref => b[op](b.input('base', base.shape, base.dtype), b.input('i', idx.shape, 'i32'), b.input('u', upd.shape, upd.dtype), axis);
  return (await checkAgainstReference(build, { base, i: idx, u: upd }, exact, new Map(), target)).gpu;
}

describe('indexing ops on WebGPU vs CPU reference (exact)', () => {
  describe('gather', () => {
    it('looks up rows like an embedding; out-of-range and negative ids give 0', async () => {
      const t = table([11, 7], 1);
      const y = await gather(t, ids([2, 5], [0, 10, 3, -1, 11, 3, 100, 5, 7, 2]), 0);
      expect(y.shape).to.deep.equal([2, 5, 7]);
      expect([...y.data.slice(7, 14)]).to.deep.equal([...t.data.slice(70, 77)].map(Math.fround));
      expect([...y.data.slice(21, 35)].every((v) => v === 0)).to.equal(true);
    });
    it('along a middle and a negative axis, with scalar indices, at rank 5', async () => {
      expect((await gather(table([3, 5, 4], 2), ids([6], [4, 0, 0, 2, 5, -3]), 1)).shape).to.deep.equal([3, 6, 4]);
      expect((await gather(table([3, 5, 4], 3), ids([], [3]), -1)).shape).to.deep.equal([3, 5]);
      expect((await gather(table([2, 3, 5], 4), ids([2, 1, 3], [0, 4, 1, 2, 3, 9]), -1)).shape).to.deep.equal([2, 3, 2, 1, 3]);
    });
    it('gathers i32 tables, from an empty table and on a folded grid', async () => {
      await gather(table([9, 3], 5, 'i32'), ids([4], [8, 0, 9, 4]), 0);
      await gather(table([0, 3], 6), ids([2], [0, 1]), 0);
      await gather(table([13, 17], 7), ids([31], Array.from({ length: 31 }, (_, k) => (k * 5) % 15 - 1)), 0, folded);
    });
    it('rejects non-i32 indices and a bad axis', () => {
      const b = new GraphBuilder();
      const t = b.input('t', [5, 3]);
      expect(() => b.gather(t, b.input('i', [4]))).to.throw(/indices must be i32, got f32\[4\]/);
      expect(() => b.gather(t, b.input('j', [4], 'i32'), 2)).to.throw(/axis 2 is out of range for rank 2/);
    });
  });

  describe('scatter', () => {
    it('replaces slices; the last duplicate wins; out-of-range indices are ignored', async () => {
      const base = table([5, 3], 1);
      const upd = hostTensor([4, 3], 'f32', [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
      const y = await scatter('scatter', base, ids([4], [3, 0, 3, 7]), upd, 0);
      expect([...y.data.slice(9, 12)]).to.deep.equal([3, 3, 3]);
      expect([...y.data.slice(0, 3)]).to.deep.equal([2, 2, 2]);
      expect([...y.data.slice(3, 9)]).to.deep.equal([...base.data.slice(3, 9)].map(Math.fround));
    });
    it('along the last axis of a rank-4 tensor, i32, no indices, folded grid', async () => {
      await scatter('scatter', table([2, 3, 1, 7], 2), ids([3], [6, 0, -7]), table([2, 3, 1, 3], 3), -1);
      await scatter('scatter', table([4, 5], 4, 'i32'), ids([2], [1, 3]), table([4, 2], 5, 'i32'), 1);
      await scatter('scatter', table([4, 5], 6), ids([0], []), table([4, 0], 7), 1);
      await scatter('scatter', table([17, 11], 8), ids([3], [16, 2, 5]), table([3, 11], 9), 0, folded);
    });
  });

  describe('scatter_add', () => {
    it('accumulates duplicates (exact on integer-valued data) and ignores out-of-range indices', async () => {
      const base = hostTensor([3, 2], 'f32', [10, 20, 30, 40, 50, 60]);
      const upd = hostTensor([5, 2], 'f32', [1, 2, 3, 4, 5, 6, 7, 8, 9, 9]);
      const y = await scatter('scatterAdd', base, ids([5], [2, 0, 2, -1, 3]), upd, 0);
      expect([...y.data]).to.deep.equal([13, 24, 30, 40, 56, 68]);
    });
    it('along a middle axis, i32 and a folded grid', async () => {
      await scatter('scatterAdd', table([3, 5, 2], 1), ids([4], [4, 1, 0, 2]), table([3, 4, 2], 2), -2);
      await scatter('scatterAdd', table([3, 5], 3, 'i32'), ids([6], [1, 1, 4, 0, 1, 9]), table([3, 6], 4, 'i32'), 1);
      await scatter('scatterAdd', table([19, 7], 5), ids([3], [0, 18, 4]), table([3, 7], 6), 0, folded);
    });
  });

  it('scatter ops reject bad indices and updates, naming the shapes', () => {
    const b = new GraphBuilder();
    const base = b.input('b', [5, 3]);
    const i = b.input('i', [2], 'i32');
    expect(() => b.scatter(base, i, b.input('u', [3, 3]))).to.throw(/updates \[3,3\] should be \[2,3\].*base \[5,3\]/);
    expect(() => b.scatterAdd(base, b.input('i2', [2, 1], 'i32'), b.input('u2', [2, 3]))).to.throw(/1-D, got \[2,1\]/);
    expect(() => b.scatterAdd(base, b.input('f', [2]), b.input('u3', [2, 3]))).to.throw(/i32, got f32\[2\]/);
    expect(() => b.scatter(base, i, b.input('u4', [2, 3], 'i32'))).to.throw(/i32\[2,3\].*f32\[5,3\]/);
  });
});
