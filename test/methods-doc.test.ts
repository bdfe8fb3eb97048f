import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { DOC, render } from './methods-doc.js';

describe('docs/methods.md', () => {
  it('shows the graphs and counts the code produces now (regenerate: node dist/test/methods-doc.js --write)', () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(render(doc)).to.equal(doc);
  });
});
