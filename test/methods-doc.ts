// Generates the printed graphs and tables of docs/methods.md (checked by methods-doc.test.ts).
// Regenerate: node dist/test/methods-doc.js --write
import { readFileSync, writeFileSync } from 'node:fs';
import { applySpec, buildBackbone, gpt2TinyConfig, bertTinyConfig, printGraph, inspectGraph, compile, type Graph } from '../src/index.js';

const DOC = new URL('../../docs/methods.md', import.meta.url).pathname;

export const SPECS: Record<string, Record<string, unknown>> = {
  'prompt-tuning': { method: 'prompt-tuning', length: 2 },
  'prefix-tuning': { method: 'prefix-tuning', length: 2, reparam: { hidden: 8 } },
  'p-tuning-v2': { method: 'p-tuning-v2', length: 2 },
  'p-tuning': { method: 'p-tuning', virtualTokens: 2, encoder: 'mlp' },
  'infix-tuning': { method: 'infix-tuning', length: 2, reparam: null },
};

/** A one-layer GPT-2 small enough to read, with the method's new nodes marked. */
export function printed(name: string): string {
  const g = buildBackbone(gpt2TinyConfig({ vocabSize: 10, dim: 4, heads: 1, inner: 8, layers: 1, positions: 8 }), { batch: 1, seq: 3 });
  const before = new Set(g.nodes.map((n) => n.id));
  const r = applySpec(g, SPECS[name]);
  return printGraph(r.graph, { annotate: (n) => (before.has(n.id) ? undefined : '+ inserted') });
}

function trainableRow(name: string, kind: 'gpt2' | 'bert'): string {
  const config = kind === 'gpt2' ? gpt2TinyConfig() : bertTinyConfig();
  const g: Graph = buildBackbone(config, { batch: 2, seq: 16 });
  const r = applySpec(g, SPECS[name]);
  const s = inspectGraph(compile(r.graph, { trainable: r.trainable, fuse: false }).graph).summary;
  return `| ${name} | ${kind}-tiny | ${s.trainableParameters} | ${s.parameters} | ${s.trainablePercent.toFixed(2)}% |`;
}

export function generated(): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of Object.keys(SPECS)) out.set(`graph-${name}`, '```\n' + printed(name) + '\n```');
  const rows = Object.keys(SPECS).flatMap((n) => [trainableRow(n, 'gpt2'), trainableRow(n, 'bert')]);
  out.set('trainable', ['| method | backbone | trainable | total (backbone + method) | % |', '|---|---|---|---|---|', ...rows].join('\n'));
  return out;
}

/** The doc with every `<!-- methods-doc: NAME -->` block replaced by its generated text. */
export function render(doc: string): string {
  const gen = generated();
  return doc.replace(/<!-- methods-doc: ([\w-]+) -->[\s\S]*?<!-- \/methods-doc -->/g, (_m, name: string) => {
    const text = gen.get(name);
    if (text === undefined) throw new Error(`docs/methods.md names unknown block '${name}'`);
    return `<!-- methods-doc: ${name} -->\n${text}\n<!-- /methods-doc -->`;
  });
}

if (process.argv.includes('--write')) {
  writeFileSync(DOC, render(readFileSync(DOC, 'utf8')));
  console.log('wrote docs/methods.md');
}
export { DOC };
