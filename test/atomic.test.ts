import { expect } from 'chai';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../src/util/atomic.js';

describe('atomic file writes', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'pg-atomic-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes bytes and strings, leaving no temp file behind', async () => {
    await writeFileAtomic(join(dir, 'a.bin'), new Uint8Array([1, 2, 3]));
    await writeFileAtomic(join(dir, 'b.txt'), 'hello');
    expect([...await readFile(join(dir, 'a.bin'))]).to.deep.equal([1, 2, 3]);
    expect(await readFile(join(dir, 'b.txt'), 'utf8')).to.equal('hello');
    expect((await readdir(dir)).sort()).to.deep.equal(['a.bin', 'b.txt']);
  });

  it('replaces an existing file', async () => {
    const path = join(dir, 'c.json');
    await writeFile(path, 'old contents that are longer');
    await writeJsonAtomic(path, { a: 1, b: [true] });
    expect(await readFile(path, 'utf8')).to.equal('{\n  "a": 1,\n  "b": [\n    true\n  ]\n}\n');
    expect(await readdir(dir)).to.deep.equal(['c.json']);
  });

  it('fails into a missing directory, naming the target', async () => {
    const path = join(dir, 'missing', 'x.txt');
    const err = await writeFileAtomic(path, 'x').then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.include(path);
    expect((err as NodeJS.ErrnoException).code).to.equal('ENOENT');
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it('leaves the old file intact and removes the temp file when a write fails', async () => {
    const path = join(dir, 'keep.txt');
    await writeFile(path, 'old');
    // A value the write itself rejects, after the temp file was created.
    const bad = 12345 as unknown as string;
    await writeFileAtomic(path, bad).then(() => expect.fail('should have failed'), () => undefined);
    expect(await readFile(path, 'utf8')).to.equal('old');
    expect(await readdir(dir)).to.deep.equal(['keep.txt']);
    // A rename that fails (the target is a non-empty directory) cleans up too.
    const target = join(dir, 'sub');
    await mkdir(target);
    await writeFile(join(target, 'inside'), 'x');
    await writeFileAtomic(target, 'y').then(() => expect.fail('should have failed'), () => undefined);
    expect((await readdir(dir)).sort()).to.deep.equal(['keep.txt', 'sub']);
    expect(await readFile(join(target, 'inside'), 'utf8')).to.equal('x');
  });

  it('refuses values JSON cannot represent', async () => {
    const path = join(dir, 'u.json');
    await writeJsonAtomic(path, undefined).then(() => expect.fail('should have failed'), (e: Error) => expect(e.message).to.include(path));
    expect(await readdir(dir)).to.deep.equal([]);
  });
});
