import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSpec } from '../src/pipelines/spec.js';
import { applySpec, buildBackbone, gpt2TinyConfig } from '../src/index.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;

describe('examples/*.json', () => {
  for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith('.json'))) {
    it(`${file} is a valid spec whose methods apply to a GPT-2`, () => {
      const spec = parseSpec(JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')), file);
      let g = buildBackbone(gpt2TinyConfig({ positions: 256 }), { batch: 2, seq: 16 });
      for (const m of spec.methods ?? []) g = applySpec(g, m).graph;
      expect(g.params().some((p) => p.attrs.trainable === true)).to.equal(true);
    });
  }
});
