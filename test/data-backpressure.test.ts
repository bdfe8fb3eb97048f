import { expect } from 'chai';
import * as t from 'io-ts';
import { closeSync, openSync, readdirSync, readlinkSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tap } from 'rxjs';
import { batch, fromGenerator, fromJsonl, newJsonlStats, prefetch, toAsyncIterator, tokenize } from '../src/pipelines/data/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How many descriptors this process holds open on `path` (-1 where /proc is missing). */
function openFdsOn(path: string): number {
  try {
    return readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path;
      } catch {
        return false;
      }
    }).length;
  } catch {
    return -1;
  }
}

/** A source that records how far production runs ahead of consumption. */
function instrumented(total: number) {
  const s = { produced: 0, consumed: 0, maxAhead: 0 };
  const source = fromGenerator(function* () {
    for (let i = 0; i < total; i++) {
      s.produced++;
      s.maxAhead = Math.max(s.maxAhead, s.produced - s.consumed);
      yield i;
    }
  });
  return { s, source };
}

describe('data backpressure', () => {
  it('toAsyncIterator pulls only while the consumer waits (highWaterMark 0)', async () => {
    const { s, source } = instrumented(1000);
    const it = toAsyncIterator(source);
    for (let i = 0; i < 20; i++) {
      expect((await it.next()).value).to.equal(i);
      s.consumed++;
      await sleep(1);
      expect(s.produced).to.equal(s.consumed); // nothing made while the consumer is busy
    }
    expect(s.maxAhead).to.equal(1); // the item being made for a waiting next()
    await it.return();
  });

  it('highWaterMark h keeps at most h items ready ahead', async () => {
    const { s, source } = instrumented(1000);
    const it = toAsyncIterator(source, { highWaterMark: 3 });
    for (let i = 0; i < 10; i++) {
      await it.next();
      s.consumed++;
      await sleep(2);
      expect(it.buffered).to.be.at.most(3);
    }
    expect(it.buffered).to.equal(3); // it does read ahead, to exactly h
    expect(s.maxAhead).to.be.at.most(4);
    await it.return();
  });

  it('prefetch(n) never holds more than n items produced but not taken', async () => {
    const n = 4;
    const { s, source } = instrumented(200);
    let taken = 0;
    let ahead = 0;
    const it = toAsyncIterator(
      source.pipe(
        tap(() => (ahead = Math.max(ahead, s.produced - taken))),
        prefetch<number>(n),
        tap(() => taken++),
      ),
    );
    const got: number[] = [];
    for await (const x of it) {
      got.push(x);
      s.consumed++;
      if (x % 25 === 0) await sleep(5); // slow steps: prefetch fills up meanwhile
      if (x % 25 === 0) expect(s.produced - taken).to.equal(n);
    }
    expect(got).to.deep.equal(Array.from({ length: 200 }, (_, i) => i));
    expect(ahead).to.be.at.most(n + 1); // counted as the item enters prefetch: n held + the one arriving
    expect(s.produced - taken).to.equal(0);
    expect(s.maxAhead).to.be.at.most(n + 1);
  });

  it('prefetch passes errors after the items made before them', async () => {
    const src = fromGenerator(function* () {
      yield 1;
      yield 2;
      throw new Error('late');
    }).pipe(prefetch<number>(8));
    const got: number[] = [];
    let err = '';
    try {
      for await (const x of toAsyncIterator(src)) got.push(x);
    } catch (e) {
      err = (e as Error).message;
    }
    expect(got).to.deep.equal([1, 2]);
    expect(err).to.equal('late');
  });

  describe('a 200 MB JSONL file', function () {
    this.timeout(60000);
    let dir: string;
    let path: string;
    const LINE_BYTES = 1000;
    const LINES = 200_000; // ~200 MB
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pg-mem-'));
      path = join(dir, 'big.jsonl');
      // 1000 lines per write, rebuilt only for the id: fast enough to make 200 MB in about a second.
      const words = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor '.repeat(20);
      const fd = openSync(path, 'w');
      for (let block = 0; block < LINES / 1000; block++) {
        let chunk = '';
        for (let i = 0; i < 1000; i++) {
          const head = `{"id":${block * 1000 + i},"text":"`;
          chunk += head + words.slice(0, LINE_BYTES - head.length - 3) + '"}\n';
        }
        writeSync(fd, chunk);
      }
      closeSync(fd);
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('streams with flat memory and bounded read-ahead under a slow consumer', async () => {
      const Row = t.type({ id: t.number, text: t.string });
      const stats = newJsonlStats();
      const tok = { encode: (s: string) => s.split(' ').map((w) => w.length) };
      const rss0 = process.memoryUsage().rss;
      const it = toAsyncIterator(fromJsonl(path, Row, { stats }).pipe(tokenize(tok), batch(16)), { highWaterMark: 2 });
      let batches = 0;
      let maxRss = rss0;
      let maxAhead = 0;
      for await (const b of it) {
        expect(b[0].id).to.equal(batches * 16);
        if (++batches % 500 === 0) {
          await sleep(40); // a slow device step: the reader must not run on meanwhile
          maxRss = Math.max(maxRss, process.memoryUsage().rss);
          maxAhead = Math.max(maxAhead, stats.linesRead - batches * 16);
        }
      }
      expect(batches).to.equal(LINES / 16); // the whole 200 MB went through
      // Read-ahead: the reader's queue (256 lines) + one 64 KiB chunk (~66 lines) + 2 ready batches.
      expect(maxAhead, 'lines read ahead').to.be.at.most(256 + 70 + 2 * 16 + 16);
      expect(maxRss - rss0, 'RSS growth').to.be.below(100 * 1024 * 1024);
    });

    it('an idle consumer stops the file reader; return() closes it', async () => {
      const Row = t.type({ id: t.number, text: t.string });
      const stats = newJsonlStats();
      const it = toAsyncIterator(fromJsonl(path, Row, { stats }));
      for (let i = 0; i < 10; i++) await it.next();
      await sleep(50);
      const read = stats.linesRead;
      expect(read).to.be.at.most(10 + 256 + 70);
      await sleep(50);
      expect(stats.linesRead).to.equal(read);
      const fds = openFdsOn(path);
      if (fds >= 0) expect(fds, 'open while reading').to.equal(1);
      await it.return();
      expect((await it.next()).done).to.equal(true);
      await sleep(20); // the descriptor is closed asynchronously
      if (fds >= 0) expect(openFdsOn(path), 'open after return()').to.equal(0);
    });
  });
});
