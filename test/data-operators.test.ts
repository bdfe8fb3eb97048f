import { expect } from 'chai';
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { mulberry32 } from '../src/ops/host.js';
import {
  SeededRng, batch, bucketByLength, filter, fromArray, padBatch, padExamples, seededShuffle, tokenize, toAsyncIterator,
} from '../src/pipelines/data/index.js';

const collect = <T>(obs: Observable<T>): Promise<T[]> => lastValueFrom(obs.pipe(toArray()));
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const ints = (x: { data: ArrayLike<number> }): number[] => Array.from(x.data);

describe('data operators', () => {
  it('tokenize adds input_ids from any encode(text) (default field and textOf)', async () => {
    const tok = { encode: (s: string) => s.split(' ').map((w) => w.length) };
    const out = await collect(fromArray([{ text: 'ab c', y: 1 }]).pipe(tokenize(tok)));
    expect(out).to.deep.equal([{ text: 'ab c', y: 1, input_ids: [2, 1] }]);
    const out2 = await collect(fromArray([{ q: 'xyz' }]).pipe(tokenize(tok, (e: { q: string }) => e.q)));
    expect(out2[0].input_ids).to.deep.equal([3]);
  });

  it('filter (rxjs) composes with the pull iterator', async () => {
    const out: number[] = [];
    for await (const x of toAsyncIterator(fromArray(range(10)).pipe(filter((x) => x % 3 === 0)))) out.push(x);
    expect(out).to.deep.equal([0, 3, 6, 9]);
  });

  describe('seededShuffle', () => {
    it('SeededRng follows host mulberry32 and restores from its state', () => {
      const a = new SeededRng(1234), b = mulberry32(1234);
      for (let i = 0; i < 5; i++) expect(a.next()).to.equal(b());
      const c = new SeededRng(0).restore(a.state);
      expect(c.next()).to.equal(a.next());
    });
    it('is a permutation; same seed -> same order; another seed -> another order', async () => {
      const run = (seed: number) => collect(fromArray(range(100)).pipe(seededShuffle<number>(16, seed)));
      const a = await run(7), b = await run(7), c = await run(8);
      expect([...a].sort((x, y) => x - y)).to.deep.equal(range(100));
      expect(a).to.deep.equal(b);
      expect(a).to.not.deep.equal(c);
      expect(a).to.not.deep.equal(range(100));
    });
    it('a buffer larger than the data shuffles it all at the end', async () => {
      const out = await collect(fromArray(range(5)).pipe(seededShuffle<number>(100, 1)));
      expect([...out].sort()).to.deep.equal(range(5));
    });
    it('fills its buffer first: the first item out comes after bufferSize + 1 pulls', async () => {
      const it = toAsyncIterator(fromArray(range(20)).pipe(seededShuffle<number>(4, 3)));
      const seen = [(await it.next()).value as number];
      expect(it.position().sourceConsumed).to.equal(5);
      for await (const x of it) seen.push(x);
      expect([...seen].sort((a, b) => a - b)).to.deep.equal(range(20));
    });
  });

  describe('bucketByLength', () => {
    it('groups by length bucket, emits full buckets, flushes the rest in bucket order', async () => {
      const lens = [1, 5, 2, 9, 6, 3, 12, 7];
      const out = await collect(fromArray(lens).pipe(bucketByLength<number>([4, 8], 2, (x) => x)));
      expect(out).to.deep.equal([[1, 2], [5, 6], [9, 12], [3], [7]]);
    });
    it('takes a batch size per bucket and checks its arguments', async () => {
      const out = await collect(fromArray([1, 10, 2, 3, 11]).pipe(bucketByLength<number>([5], [3, 1], (x) => x)));
      expect(out).to.deep.equal([[10], [1, 2, 3], [11]]);
      expect(() => bucketByLength<number>([8, 4], 2, (x) => x)).to.throw('ascending');
      expect(() => bucketByLength<number>([4], [1, 2, 3], (x) => x)).to.throw('3 batch sizes for 2 buckets');
    });
  });

  describe('batch', () => {
    it('emits fixed-size arrays and the last short one unless dropLast', async () => {
      expect(await collect(fromArray(range(7)).pipe(batch<number>(3)))).to.deep.equal([[0, 1, 2], [3, 4, 5], [6]]);
      expect(await collect(fromArray(range(7)).pipe(batch<number>(3, { dropLast: true })))).to.deep.equal([[0, 1, 2], [3, 4, 5]]);
      expect(await collect(fromArray(range(0)).pipe(batch<number>(3)))).to.deep.equal([]);
    });
  });

  describe('padBatch', () => {
    const ex = [
      { input_ids: [5, 6, 7], labels: [1, 2, 3], id: 'a' },
      { input_ids: [8], labels: [4], id: 'b' },
    ];
    it('right-pads to the longest: [B,S] i32 ids, mask and labels padded with -100', async () => {
      const [b] = await collect(fromArray([ex]).pipe(padBatch({ padId: 0 })));
      expect(b.input_ids.shape).to.deep.equal([2, 3]);
      expect(b.input_ids.dtype).to.equal('i32');
      expect(ints(b.input_ids)).to.deep.equal([5, 6, 7, 8, 0, 0]);
      expect(ints(b.attention_mask)).to.deep.equal([1, 1, 1, 1, 0, 0]);
      expect(b.attention_mask.dtype).to.equal('i32');
      expect(ints(b.labels!)).to.deep.equal([1, 2, 3, 4, -100, -100]);
      expect(b.lengths).to.deep.equal([3, 1]);
      expect(b.examples.map((e) => e.id)).to.deep.equal(['a', 'b']);
    });
    it('left padding, truncation to maxLength, fixed padTo maxLength, custom labelPad', () => {
      const left = padExamples(ex, { padId: 9, side: 'left', labelPad: -1 });
      expect(ints(left.input_ids)).to.deep.equal([5, 6, 7, 9, 9, 8]);
      expect(ints(left.attention_mask)).to.deep.equal([1, 1, 1, 0, 0, 1]);
      expect(ints(left.labels!)).to.deep.equal([1, 2, 3, -1, -1, 4]);
      const cut = padExamples(ex, { padId: 0, maxLength: 2 });
      expect(cut.input_ids.shape).to.deep.equal([2, 2]);
      expect(ints(cut.input_ids)).to.deep.equal([5, 6, 8, 0]);
      expect(cut.lengths).to.deep.equal([2, 1]);
      const fixed = padExamples([{ input_ids: [1] }], { padId: 0, maxLength: 4, padTo: 'maxLength' });
      expect(fixed.input_ids.shape).to.deep.equal([1, 4]);
      expect(fixed.labels).to.equal(undefined);
    });
    it('one number per example gives labels [B]; mixed or mismatched labels are errors', () => {
      const cls = padExamples([{ input_ids: [1, 2], labels: 3 }, { input_ids: [4], labels: 0 }], { padId: 0 });
      expect(cls.labels!.shape).to.deep.equal([2]);
      expect(ints(cls.labels!)).to.deep.equal([3, 0]);
      expect(() => padExamples([{ input_ids: [1], labels: 1 }, { input_ids: [1], labels: [1] }], { padId: 0 })).to.throw('mix label kinds');
      expect(() => padExamples([{ input_ids: [1, 2], labels: [1] }], { padId: 0 })).to.throw('1 labels for 2 input_ids');
      expect(() => padBatch({ padId: 0, padTo: 'maxLength' })).to.throw('needs maxLength');
    });
  });
});
