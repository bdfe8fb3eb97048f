// Keeps the docs true: quoted code must appear verbatim in the file it names, printed outputs
// are regenerated and compared, relative links must resolve, and the doc's example runs.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TARGET, ELEMENTWISE_PRELUDE, getOp, printGraph } from '../src/index.js';
import { exampleGraph, runExample } from './docs-example.js';
import { expectClose } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** What each `<!-- output: NAME -->` block must equal. */
const OUTPUTS: Record<string, () => string> = {
  'printGraph(exampleGraph())': () => printGraph(exampleGraph()),
  'scale kernel for f32[3,5], factor 2': () => {
    const t = { shape: [3, 5], dtype: 'f32' } as const;
    const code = getOp('scale').kernel!({ inputs: [t], output: t, attrs: { factor: 2 }, target: DEFAULT_TARGET }).code;
    return code.replace(`\n${ELEMENTWISE_PRELUDE}\n`, '\n// ELEMENTWISE_PRELUDE (helper functions) elided\n').trimEnd();
  },
};

interface Marked { kind: 'quote' | 'output'; arg: string; body: string }

function markedBlocks(text: string): Marked[] {
  const re = /<!-- (quote|output): (.+?) -->\n```[^\n]*\n([\s\S]*?)\n```/g;
  return [...text.matchAll(re)].map((m) => ({ kind: m[1] as Marked['kind'], arg: m[2], body: m[3] }));
}

describe('docs', () => {
  for (const doc of DOCS) {
    const text = readFileSync(join(ROOT, doc), 'utf8');

    describe(doc, () => {
      for (const [i, block] of markedBlocks(text).entries()) {
        it(`${block.kind} #${i + 1} (${block.arg}) is current`, () => {
          if (block.kind === 'quote') {
            const source = readFileSync(join(ROOT, block.arg), 'utf8');
            expect(source.includes(block.body), `${doc}: this block is no longer in ${block.arg}; update it:\n${block.body}`).to.equal(true);
          } else {
            const make = OUTPUTS[block.arg];
            expect(make, `${doc}: no generator for output '${block.arg}' in test/docs.test.ts`).to.be.a('function');
            expect(block.body, `${doc}: output '${block.arg}' changed`).to.equal(make());
          }
        });
      }

      it('relative links point at files that exist', () => {
        const links = [...text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
        for (const l of links) expect(existsSync(join(ROOT, dirname(doc), l)), `${doc} links to ${l}`).to.equal(true);
      });
    });
  }

  it('the architecture example runs on WebGPU like the CPU reference', async () => {
    const { device, reference } = await runExample();
    expectClose(device, reference, { rel: 1e-5, abs: 1e-6 }, 'docs example');
  });
});
