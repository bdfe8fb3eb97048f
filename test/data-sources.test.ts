import { expect } from 'chai';
import * as t from 'io-ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, lastValueFrom, toArray, type Observable } from 'rxjs';
import {
  CsvParser, fromArray, fromConll, fromCsv, fromGenerator, fromJsonl, newJsonlStats, readLines, toAsyncIterator, type CsvRow,
} from '../src/pipelines/data/index.js';

const collect = <T>(obs: Observable<T>): Promise<T[]> => lastValueFrom(obs.pipe(toArray()));

async function pullAll<T>(obs: Observable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of toAsyncIterator(obs)) out.push(x);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}

describe('data sources', () => {
  let dir: string;
  let n = 0;
  const file = async (text: string): Promise<string> => {
    const p = join(dir, `f${n++}.txt`);
    await writeFile(p, text);
    return p;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pg-data-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('fromArray / fromGenerator', () => {
    it('emit items in order, through subscribe and through the pull iterator', async () => {
      expect(await collect(fromArray([1, 2, 3]))).to.deep.equal([1, 2, 3]);
      expect(await pullAll(fromArray(['a', 'b']))).to.deep.equal(['a', 'b']);
      expect(await collect(fromArray([]))).to.deep.equal([]);
    });
    it('call the generator anew per subscription (sync and async)', async () => {
      let calls = 0;
      const src = fromGenerator(function* () {
        calls++;
        yield* [1, 2];
      });
      expect(await collect(src)).to.deep.equal([1, 2]);
      expect(await pullAll(src)).to.deep.equal([1, 2]);
      expect(calls).to.equal(2);
      const asyncSrc = fromGenerator(async function* () {
        yield 'x';
        await new Promise((r) => setTimeout(r, 1));
        yield 'y';
      });
      expect(await pullAll(asyncSrc)).to.deep.equal(['x', 'y']);
    });
    it('propagates a generator error', async () => {
      const src = fromGenerator(function* () {
        yield 1;
        throw new Error('boom');
      });
      expect(await rejection(collect(src))).to.equal('boom');
      expect(await rejection(pullAll(src))).to.equal('boom');
    });
    it('stops pulling when unsubscribed (finally runs)', async () => {
      let closed = false;
      const src = fromGenerator(function* () {
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          closed = true;
        }
      });
      expect(await firstValueFrom(src)).to.equal(0);
      await new Promise((r) => setImmediate(r));
      expect(closed).to.equal(true);
    });
  });

  describe('readLines', () => {
    it('splits \\n and \\r\\n and keeps a last line without newline', async () => {
      const p = await file('a\r\nb\n\nc');
      const lines: string[] = [];
      for await (const l of readLines(p)) lines.push(l);
      expect(lines).to.deep.equal(['a', 'b', '', 'c']);
    });
    it('names the missing file', async () => {
      const err = await rejection((async () => {
        for await (const _ of readLines(join(dir, 'nope.jsonl'))) void _;
      })());
      expect(err).to.include('nope.jsonl');
    });
  });

  describe('fromJsonl', () => {
    const Row = t.type({ text: t.string, label: t.number });
    it('decodes each line, skipping blank lines', async () => {
      const p = await file('{"text":"a","label":1}\n\n{"text":"b","label":2}\n');
      expect(await collect(fromJsonl(p, Row))).to.deep.equal([{ text: 'a', label: 1 }, { text: 'b', label: 2 }]);
    });
    it('a line that is not JSON -> error naming file:line', async () => {
      const p = await file('{"text":"a","label":1}\n{"text": oops}\n');
      const err = await rejection(collect(fromJsonl(p, Row)));
      expect(err).to.include(`${p}:2:`).and.include('not JSON');
    });
    it('a record failing the codec -> error naming file:line and the JSON path', async () => {
      const Nested = t.type({ meta: t.type({ tags: t.array(t.string) }) });
      const p = await file('{"meta":{"tags":["x"]}}\n{"meta":{"tags":["x"]}}\n{"meta":{"tags":["y",7]}}\n');
      const err = await rejection(pullAll(fromJsonl(p, Nested)));
      expect(err).to.include(`${p}:3:`).and.include('$.meta.tags[1]').and.include('got 7');
    });
    it("onInvalid: 'skip' drops bad lines and counts them", async () => {
      const p = await file('{"text":"a","label":1}\nnot json\n{"text":"b"}\n{"text":"c","label":3}\n');
      const stats = newJsonlStats();
      const rows = await collect(fromJsonl(p, Row, { onInvalid: 'skip', stats }));
      expect(rows.map((r) => r.text)).to.deep.equal(['a', 'c']);
      expect(stats.skipped).to.equal(2);
      expect(stats.decoded).to.equal(2);
      expect(stats.linesRead).to.equal(4);
      expect(stats.firstSkipped).to.include(`${p}:2:`);
    });
  });

  describe('fromCsv', () => {
    it('parses RFC-4180: quoted fields, escaped quotes, delimiters and newlines inside quotes', async () => {
      const p = await file('id,text,label\r\n1,"hello, world",pos\r\n2,"say ""hi""\nthen go",neg\r\n3,,"x"\r\n');
      expect(await collect(fromCsv(p))).to.deep.equal([
        { id: '1', text: 'hello, world', label: 'pos' },
        { id: '2', text: 'say "hi"\nthen go', label: 'neg' },
        { id: '3', text: '', label: 'x' },
      ]);
    });
    it('reads TSV with delimiter \\t, a last row without newline, and a BOM', async () => {
      const p = await file('\ufeffa\tb\n1\t"q""\t"\n2\tz');
      expect(await pullAll(fromCsv(p, { delimiter: '\t' }))).to.deep.equal([{ a: '1', b: 'q"\t' }, { a: '2', b: 'z' }]);
    });
    it('streams across chunk boundaries (tiny chunks)', async () => {
      const p = await file('k,v\n"multi\r\nline",1\r\nplain,"2"\n');
      expect(await collect(fromCsv(p, { chunkBytes: 1 }))).to.deep.equal([{ k: 'multi\r\nline', v: '1' }, { k: 'plain', v: '2' }]);
    });
    it('decodes with a codec and names file:line on failure', async () => {
      const Rec = t.type({ n: t.string, ok: t.keyof({ yes: null, no: null }) });
      const p = await file('n,ok\n1,yes\n"two\nlines",maybe\n');
      const err = await rejection(collect(fromCsv(p, { codec: Rec })));
      expect(err).to.include(`${p}:3:`).and.include('$.ok');
    });
    it('errors: wrong field count, unclosed quote, text after a closing quote', async () => {
      const p1 = await file('a,b\n1,2\n3\n');
      expect(await rejection(collect(fromCsv(p1)))).to.include(`${p1}:3: 1 fields, the header has 2`);
      const p2 = await file('a\n"open\n');
      expect(await rejection(collect(fromCsv(p2)))).to.include(`${p2}:2: quoted field not closed`);
      const p3 = await file('a,b\n"x"y,1\n');
      expect(await rejection(collect(fromCsv(p3)))).to.include(`${p3}:2: unexpected "y"`);
    });
    it('CsvParser gives the same rows fed whole or one character at a time', () => {
      const text = 'a,b\r\n"1\n2",""""\r\n\r\nx,y';
      const whole: CsvRow[] = [];
      const p1 = new CsvParser(',', 'mem');
      p1.push(text, whole);
      p1.finish(whole);
      const bits: CsvRow[] = [];
      const p2 = new CsvParser(',', 'mem');
      for (const c of text) p2.push(c, bits);
      p2.finish(bits);
      expect(bits).to.deep.equal(whole);
      expect(whole).to.deep.equal([
        { fields: ['a', 'b'], line: 1 },
        { fields: ['1\n2', '"'], line: 2 },
        { fields: ['x', 'y'], line: 5 },
      ]);
    });
  });

  describe('fromConll', () => {
    it('yields sentences, skips -DOCSTART- and takes the last column as the tag', async () => {
      const p = await file('-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n');
      expect(await collect(fromConll(p))).to.deep.equal([
        { tokens: ['EU', 'rejects', 'German'], tags: ['B-ORG', 'O', 'B-MISC'] },
        { tokens: ['Peter', 'Blackburn'], tags: ['B-PER', 'I-PER'] },
      ]);
    });
    it('a tag that is not BIO -> error naming file:line', async () => {
      const p = await file('A B-PER\nB I-PER\n\nC O\nD I-LOC\n');
      const err = await rejection(collect(fromConll(p)));
      expect(err).to.include(`${p}:5:`).and.include('I-LOC follows O');
      const p2 = await file('A O\n\nX I-ORG\n');
      expect(await rejection(collect(fromConll(p2)))).to.include(`${p2}:3: I-ORG starts a sentence`);
      const p3 = await file('A B-PER\nB I-LOC\n');
      expect(await rejection(collect(fromConll(p3)))).to.include(`${p3}:2: I-LOC follows B-PER`);
      const p4 = await file('A PER\n');
      expect(await rejection(collect(fromConll(p4)))).to.include(`${p4}:1:`).and.include('not a BIO tag');
    });
  });
});
