import { expect } from 'chai';
import * as t from 'io-ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Observable } from 'rxjs';
import {
  batch, decodePosition, fromJsonl, padBatch, prefetch, seededShuffle, toAsyncIterator, tokenize, type DataPosition, type PaddedBatch, type PullOptions,
} from '../src/pipelines/data/index.js';

const Row = t.type({ text: t.string, label: t.number });
type Row = t.TypeOf<typeof Row>;
const tok = { encode: (s: string) => [...s].map((c) => c.charCodeAt(0) % 50) };

/** A plain view of a batch for deep comparison. */
const view = (b: PaddedBatch<Row & { input_ids: number[] }>) => ({ ids: [...b.input_ids.data], mask: [...b.attention_mask.data], labels: b.examples.map((e) => e.label) });

describe('data resume', () => {
  let dir: string;
  let path: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pg-resume-'));
    path = join(dir, 'train.jsonl');
    const lines = Array.from({ length: 103 }, (_, i) => JSON.stringify({ text: 'x'.repeat(1 + (i * 7) % 13) + String(i), label: i % 3 }));
    await writeFile(path, lines.join('\n') + '\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const build = (seed: number, withPrefetch: boolean) => {
    const base = fromJsonl(path, Row).pipe(seededShuffle<Row>(10, seed), tokenize(tok), batch(4));
    const withPf = withPrefetch ? base.pipe(prefetch<Array<Row & { input_ids: number[] }>>(3)) : base;
    return withPf.pipe(padBatch<Row & { input_ids: number[] }>({ padId: 0, maxLength: 12 }));
  };

  async function takeAll<T>(obs: Observable<T>, opts?: PullOptions): Promise<T[]> {
    const out: T[] = [];
    for await (const x of toAsyncIterator(obs, opts)) out.push(x);
    return out;
  }

  async function takeSome<T>(obs: Observable<T>, k: number, opts?: PullOptions): Promise<DataPosition> {
    const it = toAsyncIterator(obs, opts);
    for (let i = 0; i < k; i++) await it.next();
    const pos = it.position();
    await it.return();
    return pos;
  }

  for (const withPrefetch of [false, true]) {
    it(`batches after restoring a position equal an uninterrupted run${withPrefetch ? ' (with prefetch)' : ''}`, async () => {
      const full = (await takeAll(build(42, withPrefetch), { highWaterMark: 2 })).map(view);
      expect(full).to.have.length(26);
      for (const k of [0, 1, 7, 25, 26]) {
        const saved = JSON.parse(JSON.stringify(await takeSome(build(42, withPrefetch), k, { highWaterMark: 2 }))) as unknown;
        const pos = decodePosition(saved);
        expect(pos.delivered).to.equal(k);
        const rest = (await takeAll(build(42, withPrefetch), { resumeFrom: pos })).map(view);
        expect(rest, `resumed after ${k}`).to.deep.equal(full.slice(k));
      }
    });
  }

  it('the position is the same with or without read-ahead (it describes when the item was made)', async () => {
    const a = await takeSome(build(5, false), 9);
    const b = await takeSome(build(5, true), 9, { highWaterMark: 4 });
    expect(b).to.deep.equal(a);
    expect(a.shuffleRng).to.have.length(1);
    expect(a.sourceConsumed).to.be.within(9 * 4, 9 * 4 + 10); // 36 examples out, up to 10 in the shuffle buffer
  });

  it('a changed seed or a too short data set is an error, not a silent resume elsewhere', async () => {
    const pos = await takeSome(build(42, false), 5);
    let err = '';
    try {
      await takeAll(build(43, false), { resumeFrom: pos });
    } catch (e) {
      err = (e as Error).message;
    }
    expect(err).to.include('seed or pipeline settings changed');
    try {
      await takeAll(build(42, false), { resumeFrom: { ...pos, delivered: 30 } });
    } catch (e) {
      err = (e as Error).message;
    }
    expect(err).to.include('the data ended after 26 items, the saved position is at 30');
  });

  it('decodePosition names the JSON path of a bad field', () => {
    expect(() => decodePosition({ version: 1, delivered: -1, sourceConsumed: 0, shuffleRng: [] })).to.throw('$.delivered');
    expect(() => decodePosition({ version: 1, delivered: 0, sourceConsumed: 0, shuffleRng: [1.5] })).to.throw('$.shuffleRng[0]');
  });
});
