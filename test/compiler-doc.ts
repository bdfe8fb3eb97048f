// The generated parts of docs/compiler.md: the pass list, one small graph after every pass,
// its memory plan, a kernel's WGSL and its inspect report, all produced by the compiler itself.
// test/compiler-doc.test.ts checks the doc against this; after changing the compiler, rewrite
// the doc with:  npx tsc -p . && node dist/test/compiler-doc.js --write
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  compile, ELEMENTWISE_PRELUDE, formatBytes, formatReport, GraphBuilder, initParams, planMemory, POINTS, printGraph, type Compiled, type Graph,
} from '../src/index.js';
import { passCatalogue } from '../src/pipelines/inspect.js';

export const DOC = fileURLToPath(new URL('../../docs/compiler.md', import.meta.url));

/** A 1-layer classifier with one trainable parameter, and a little for each pass to do. */
export function docGraph(): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [2, 3]);
  const labels = b.input('labels', [2], 'i32');
  const logits = b.within('fc', () => {
    const w = b.param('fc.weight', [3, 4], { init: 'normal:0.5' });
    const bias = b.param('fc.bias', [4], { init: 'zeros' }); // frozen here; compile's `trainable` unfreezes it
    // scale(w) reads only a frozen weight: fold evaluates it at compile time.
    return b.mark(b.add(b.matmul(x, b.scale(w, 0.5)), bias), POINTS.hiddenStates);
  });
  b.exp(x); // read by nothing: dce removes it
  b.output('logits', logits);
  b.output('loss', b.within('loss', () => b.crossEntropy(b.tanh(logits), labels)));
  return b.graph;
}

export function docCompiled(): Compiled {
  const graph = docGraph();
  return compile(graph, { train: true, trainable: ['fc.bias'], params: initParams(graph, 0) });
}

/** Each fused node's `program` attribute (JSON of its steps) shortened to the ops it runs. */
export function shortenPrograms(text: string): string {
  return text.replace(/program="((?:[^"\\]|\\.)*)"/g, (_m, json: string) => {
    const steps = JSON.parse(JSON.parse(`"${json}"`) as string) as { op: string }[];
    return `program=<${steps.map((s) => s.op).join(' ')}>`;
  });
}

const printDocGraph = (g: Graph): string => shortenPrograms(printGraph(g));

/** Lines of `b` against `a`: unchanged lines with two spaces, removed with `-`, added with `+`. */
export function lineDiff(a: readonly string[], b: readonly string[]): string[] {
  // Longest common subsequence table, from the ends.
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out: string[] = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { out.push(`  ${a[i]}`); i++; j++; }
    else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1])) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out;
}

/** Block name -> content (between the doc's `<!-- compiler-doc: NAME -->` and `<!-- /compiler-doc -->`). */
export function compilerDocBlocks(): Map<string, string> {
  const c = docCompiled();
  const blocks = new Map<string, string>();
  const fence = (lang: string, body: string): string => `\`\`\`${lang}\n${body}\n\`\`\``;
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  blocks.set('passes', [
    '| pass | runs | requires | ensures | does |',
    '| --- | --- | --- | --- | --- |',
    ...passCatalogue().map((p) => `| \`${p.name}\` | ${p.runs} | ${p.requires.join(', ') || '-'} | ${p.ensures.join(', ') || '-'} | ${cell(p.description)} |`),
  ].join('\n'));
  const seen = new Map<string, number>();
  c.stages.forEach((s, k) => {
    const n = (seen.get(s.pass) ?? 0) + 1;
    seen.set(s.pass, n);
    const name = `after ${s.pass}${n > 1 ? ` #${n}` : ''}`;
    if (k === 0) return blocks.set(name, fence('text', printDocGraph(s.graph)));
    const before = printDocGraph(c.stages[k - 1].graph).split('\n'), after = printDocGraph(s.graph).split('\n');
    blocks.set(name, fence('diff', s.changed ? lineDiff(before, after).join('\n') : '  (unchanged)'));
  });
  blocks.set('final', fence('text', printDocGraph(c.graph)));
  const plan = planMemory(c.graph);
  const slots = plan.slotBytes.map((bytes, s) => {
    const ids = [...plan.slotOf].filter(([, slot]) => slot === s).map(([id]) => `%${id}`);
    return `slot ${s}: ${formatBytes(bytes).padEnd(6)} holds ${ids.join(', ')} (in turn)`;
  });
  blocks.set('memory', fence('text', [
    ...slots,
    `dedicated (inputs, parameters, outputs): ${formatBytes(plan.dedicatedBytes)}`,
    `peak: ${formatBytes(plan.peakBytes)}; one buffer per value would take ${formatBytes(plan.unplannedBytes)}`,
  ].join('\n')));
  const fused = c.graph.nodes.find((n) => n.op === 'fused')!;
  const kernel = c.kernels.get(fused.id)!;
  blocks.set('kernel', fence('wgsl', [
    `// %${fused.id} ${kernel.variant}, dispatched as [${kernel.workgroups.join(', ')}] workgroups`,
    kernel.code.replace(`\n${ELEMENTWISE_PRELUDE}\n`, '\n// ELEMENTWISE_PRELUDE (helper functions) elided\n').trimEnd(),
  ].join('\n')));
  blocks.set('inspect', fence('text', shortenPrograms(formatReport(c.graph))));
  return blocks;
}

// A block may be empty (a new one, before its first --write).
const BLOCK = /<!-- compiler-doc: (.+?) -->\n([\s\S]*?)<!-- \/compiler-doc -->/g;

/** The doc's generated blocks as they are now. */
export function docBlocks(text: string): Map<string, string> {
  return new Map([...text.matchAll(BLOCK)].map((m) => [m[1], m[2].replace(/\n$/, '')]));
}

/** The doc with every generated block replaced by its current content. */
export function regenerate(text: string, blocks: ReadonlyMap<string, string>): string {
  return text.replace(BLOCK, (whole, name: string) => {
    const body = blocks.get(name);
    return body === undefined ? whole : `<!-- compiler-doc: ${name} -->\n${body}\n<!-- /compiler-doc -->`;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(DOC, regenerate(readFileSync(DOC, 'utf8'), compilerDocBlocks()));
  process.stdout.write(`rewrote the generated blocks of ${DOC}\n`);
}
