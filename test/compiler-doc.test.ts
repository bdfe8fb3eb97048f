// Keeps docs/compiler.md true: every generated block equals what the compiler produces now,
// and every block the generator makes appears in the doc.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { compilerDocBlocks, docBlocks, DOC, lineDiff } from './compiler-doc.js';

describe('docs/compiler.md', () => {
  const text = readFileSync(DOC, 'utf8');
  const inDoc = docBlocks(text);
  const generated = compilerDocBlocks();
  const fix = 'regenerate with: npx tsc -p . && node dist/test/compiler-doc.js --write';

  for (const [name, body] of generated) {
    it(`block '${name}' is current`, () => {
      expect(inDoc.has(name), `docs/compiler.md has no '${name}' block; ${fix}`).to.equal(true);
      expect(inDoc.get(name), `docs/compiler.md: block '${name}' changed; ${fix}`).to.equal(body);
    });
  }

  it('has no block the generator does not make', () => {
    expect([...inDoc.keys()].filter((k) => !generated.has(k))).to.deep.equal([]);
  });

  it('shows every pass the example runs', () => {
    for (const p of ['freeze', 'unmark', 'shard', 'fuse-attention', 'autodiff', 'adamw', 'dce', 'cse', 'fold', 'fusion']) expect(generated.has(`after ${p}`), p).to.equal(true);
  });

  it('lineDiff marks removed and added lines around common ones', () => {
    expect(lineDiff(['a', 'b', 'c'], ['a', 'x', 'c', 'd'])).to.deep.equal(['  a', '- b', '+ x', '  c', '+ d']);
  });
});
