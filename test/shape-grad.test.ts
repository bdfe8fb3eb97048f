import { expect } from 'chai';
import { GraphBuilder, hasOp, hostTensor, randomTensor } from '../src/index.js';
import { appendBackward } from '../src/passes/autodiff.js';
import { checkGradients } from './gradcheck.js';

describe('shape and indexing gradient rules (f64 finite differences; WebGPU vs CPU)', () => {
  const x = randomTensor([3, 4, 5], 21);
  const ids = (shape: number[], values: number[]) => hostTensor(shape, 'i32', values);

  it('reshape', () => checkGradients((b) => b.reshape(b.input('x', x.shape), [5, -1, 2]), { x }));
  it('permute (rank 3 and rank 5)', async () => {
    await checkGradients((b) => b.permute(b.input('x', x.shape), [2, 0, 1]), { x });
    const x5 = randomTensor([2, 1, 3, 2, 3], 22);
    await checkGradients((b) => b.permute(b.input('x', x5.shape), [4, 2, 0, 3, 1]), { x: x5 });
  });
  it('broadcast_to (sums back over stretched and new axes)', async function () {
    if (!hasOp('reduce_sum')) this.skip(); // unbroadcast needs the reduce ops
    const r = randomTensor([4, 1], 23);
    await checkGradients((b) => b.broadcastTo(b.input('r', r.shape), [3, 4, 5]), { r });
  });
  it('broadcast_to that adds only size-1 axes (reshape back)', () => {
    const r = randomTensor([4, 5], 24);
    return checkGradients((b) => b.broadcastTo(b.input('r', r.shape), [1, 4, 5]), { r });
  });
  it('concat (three inputs, negative axis)', () => {
    const a = randomTensor([3, 2], 25), c = randomTensor([3, 1], 26), d = randomTensor([3, 4], 27);
    return checkGradients((b) => b.concat([b.input('a', a.shape), b.input('c', c.shape), b.input('d', d.shape)], -1), { a, c, d });
  });
  it('slice (middle and edge ranges) and pad', async () => {
    await checkGradients((b) => b.slice(b.input('x', x.shape), 1, 1, 3), { x });
    await checkGradients((b) => b.slice(b.input('x', x.shape), -1, 0, 5), { x });
    await checkGradients((b) => b.slice(b.input('x', x.shape), 0, 2, 3), { x });
    await checkGradients((b) => b.pad(b.input('x', x.shape), -2, 2, 3), { x });
  });
  it('gather: repeated and out-of-range ids accumulate into / skip the table', async () => {
    const t = randomTensor([6, 3], 28);
    const i = ids([2, 4], [5, 0, 5, -1, 2, 5, 6, 1]);
    await checkGradients((b) => b.gather(b.input('t', t.shape), b.input('i', i.shape, 'i32'), 0), { t, i });
    await checkGradients((b) => b.gather(b.input('t', x.shape), b.input('i', [3], 'i32'), -2), { t: x, i: ids([3], [3, 3, 0]) });
  });
  it('scatter (distinct ids; base is zero at the replaced slots)', async () => {
    const base = randomTensor([5, 3], 29), u = randomTensor([2, 3], 30);
    await checkGradients((b) => b.scatter(b.input('base', base.shape), b.input('i', [2], 'i32'), b.input('u', u.shape), 0),
      { base, u, i: ids([2], [4, 1]) });
    const u2 = randomTensor([3, 4, 2], 31);
    await checkGradients((b) => b.scatter(b.input('base', x.shape), b.input('i', [2], 'i32'), b.input('u', u2.shape), -1),
      { base: x, u: u2, i: ids([2], [0, 3]) });
  });
  it('scatter_add (duplicates accumulate)', () => {
    const base = randomTensor([5, 3], 32), u = randomTensor([4, 3], 33);
    return checkGradients((b) => b.scatterAdd(b.input('base', base.shape), b.input('i', [4], 'i32'), b.input('u', u.shape), 0),
      { base, u, i: ids([4], [2, 2, 7, 0]) });
  });

  it('padding_mask passes no gradient to the mask; the scores still get theirs', () => {
    const b = new GraphBuilder();
    const s = b.input('s', [2, 1, 1, 3]);
    const m = b.input('m', [2, 3]);
    const y = b.add(s, b.paddingMask(m));
    const { grads } = appendBackward(b, y, b.input('dy', y.type.shape), [s.id, m.id]);
    expect(grads.has(s.id)).to.equal(true);
    expect(grads.has(m.id)).to.equal(false);
  });
});
