// The pads-to-concat pass: sums of zero pads with disjoint ranges along one axis (slice
// gradients) become one concat. Each rewritten graph runs on the CPU reference and on WebGPU
// against the graph as it was; data movement only, so fully rewritten sums agree exactly.
import { expect } from 'chai';
import {
  applySpec, compile, CpuExecutor, DEFAULT_TARGET, defaultPipeline, GpuExecutor, GraphBuilder, padsToConcatPass, randomTensor,
  type Feeds, type Graph, type HostTensor, type KernelTarget, type Ref,
} from '../src/index.js';
import { gpu } from './setup.js';
import { expectClose } from './helpers.js';
import { backbone, batch, paramsFor } from './methods-harness.js';

/** A graph summing pads of inputs `x0`, `x1`, ... (of the given shapes), as `out`. */
function padSum(shapes: readonly number[][], build: (b: GraphBuilder, xs: Ref[]) => Ref): { graph: Graph; feeds: Feeds } {
  const b = new GraphBuilder();
  const xs = shapes.map((s, k) => b.input(`x${k}`, s));
  b.output('out', build(b, xs));
  return { graph: b.graph, feeds: Object.fromEntries(shapes.map((s, k) => [`x${k}`, randomTensor(s, 11 + k)])) };
}

function rewrite(graph: Graph, target: KernelTarget = DEFAULT_TARGET): { graph: Graph; changed: boolean } {
  return padsToConcatPass.run(graph, { target, params: new Map(), notes: [] });
}

const count = (g: Graph, op: string): number => g.nodes.filter((n) => n.op === op).length;

/** `out` of the rewritten graph on CPU and WebGPU against the original on the CPU. */
async function expectSameValues(before: Graph, after: Graph, feeds: Feeds, exact: boolean): Promise<void> {
  const expected = (await new CpuExecutor('f32').run(before, feeds, new Map())).get('out')!;
  const cpu = (await new CpuExecutor('f32').run(after, feeds, new Map())).get('out')!;
  const dev = (await new GpuExecutor(await gpu()).run(after, feeds, new Map())).get('out')!;
  for (const [what, got] of [['cpu', cpu], ['webgpu', dev]] as [string, HostTensor][]) {
    if (exact) expect([...got.data], what).to.deep.equal([...expected.data]);
    else expectClose(got, expected, { rel: 1e-6, abs: 1e-6 }, what);
  }
}

describe('pads-to-concat pass', () => {
  it('turns a sum of pads tiling the axis into one concat (exact)', async () => {
    const { graph, feeds } = padSum([[2, 3], [2, 5], [2, 4]], (b, [x, y, z]) =>
      b.add(b.add(b.pad(y, 1, 3, 4), b.pad(x, 1, 0, 9)), b.pad(z, 1, 8, 0)));
    const r = rewrite(graph);
    expect(r.changed).to.equal(true);
    expect(count(r.graph, 'pad') + count(r.graph, 'add')).to.equal(0);
    const [cat] = r.graph.nodes.filter((n) => n.op === 'concat');
    expect(cat.inputs.map((i) => r.graph.node(i).attrs.name)).to.deep.equal(['x0', 'x1', 'x2']);
    expect(r.graph.output('out').type).to.deep.equal(graph.output('out').type);
    await expectSameValues(graph, r.graph, feeds, true);
  });

  it('fills gaps with zero constants, and leaves a sum alone when that saves no kernel', async () => {
    const { graph, feeds } = padSum([[2, 3], [3, 3], [3, 3]], (b, [x, y, z]) =>
      b.add(b.add(b.pad(x, 0, 0, 7), b.pad(z, 0, 6, 0)), b.pad(y, 0, 2, 4)));
    const r = rewrite(graph);
    expect(r.changed).to.equal(true);
    const zeros = r.graph.nodes.filter((n) => n.op === 'const');
    expect(zeros.map((n) => [n.attrs.value, n.type.shape])).to.deep.equal([[0, [1, 3]]]);
    expect(count(r.graph, 'concat')).to.equal(1);
    await expectSameValues(graph, r.graph, feeds, true);
    // Two pads with three gaps: 3 kernels before, a concat and 3 constants after.
    const sparse = padSum([[2, 3], [3, 3]], (b, [x, y]) => b.add(b.pad(x, 0, 1, 7), b.pad(y, 0, 5, 2)));
    expect(rewrite(sparse.graph).changed).to.equal(false);
  });

  it('keeps overlapping pads, pads on other axes and other leaves as adds to the concat', async () => {
    const { graph, feeds } = padSum([[4, 2], [4, 3], [4, 2], [4, 2], [2, 6], [4, 6]], (b, [p, q, r, s, t, u]) =>
      [b.pad(q, 1, 1, 2), b.pad(r, 1, 4, 0), u, b.pad(t, 0, 2, 0), b.pad(s, 1, 2, 2)].reduce((acc, x) => b.add(acc, x), b.pad(p, 1, 0, 4)));
    const r = rewrite(graph);
    expect(r.changed).to.equal(true);
    const [cat] = r.graph.nodes.filter((n) => n.op === 'concat');
    expect(cat.inputs.map((i) => r.graph.node(i).attrs.name)).to.deep.equal(['x0', 'x3', 'x2']);
    expect(r.graph.nodes.filter((n) => n.op === 'pad').map((n) => r.graph.node(n.inputs[0]).attrs.name)).to.have.members(['x1', 'x4']);
    expect(count(r.graph, 'add')).to.equal(3);
    await expectSameValues(graph, r.graph, feeds, false);
    // Pads on different axes only: nothing to join.
    const mixed = padSum([[2, 3], [3, 2]], (b, [x, y]) => b.add(b.pad(x, 0, 1, 0), b.pad(y, 1, 0, 1)));
    expect(rewrite(mixed.graph).changed).to.equal(false);
    // A pad read elsewhere too stays, so one disjoint pad is left, and no concat.
    const shared = padSum([[2, 3], [2, 3]], (b, [x, y]) => {
      const px = b.pad(x, 1, 0, 3);
      b.output('px', px);
      return b.add(px, b.pad(y, 1, 3, 0));
    });
    expect(rewrite(shared.graph).changed).to.equal(false);
  });

  it('nests concats within the binding limit (20 parts, 8 storage buffers)', async () => {
    const widths = Array.from({ length: 20 }, (_, k) => (k % 3) + 1);
    const total = widths.reduce((a, w) => a + w, 0);
    const { graph, feeds } = padSum(widths.map((w) => [2, w]), (b, xs) => {
      let at = 0;
      const pads = xs.map((x, k) => b.pad(x, 1, at, total - (at += widths[k])));
      // Summed in a scrambled order, as a tree rather than a chain.
      const order = pads.map((_, k) => (k * 7) % 20);
      const sum = (ks: number[]): Ref => (ks.length === 1 ? pads[ks[0]] : b.add(sum(ks.slice(0, ks.length >> 1)), sum(ks.slice(ks.length >> 1))));
      return sum(order);
    });
    const r = rewrite(graph, { ...DEFAULT_TARGET, maxStorageBuffers: 8 });
    expect(r.changed).to.equal(true);
    const cats = r.graph.nodes.filter((n) => n.op === 'concat');
    expect(cats.length).to.equal(Math.ceil(19 / 6));
    for (const c of cats) expect(c.inputs.length + 1).to.be.at.most(8);
    expect(count(r.graph, 'pad') + count(r.graph, 'add')).to.equal(0);
    await expectSameValues(graph, r.graph, feeds, true);
  });

  it('GPT-2 tiny prefix-tuning step: same loss and gradients, fewer kernels', async () => {
    const { graph, weights } = backbone('gpt2');
    const m = applySpec(graph, { method: 'prefix-tuning', length: 3, reparam: null });
    const feeds = batch('gpt2');
    const run = (withPass: boolean) => {
      const opts = { train: true, optimizer: false as const, trainable: m.trainable, params: paramsFor(m, weights) };
      const passes = defaultPipeline(opts).filter((p) => withPass || p.name !== 'pads-to-concat');
      const c = compile(m.graph, { ...opts, passes });
      const names = [...c.graph.outputs.keys()].filter((k) => k.startsWith('grad:') || k === 'loss');
      return { c, values: new CpuExecutor('f32').runSync(c.graph, feeds, c.params, names), names };
    };
    const before = run(false), after = run(true);
    expect(after.names).to.deep.equal(before.names);
    for (const k of before.names) expectClose(after.values.get(k)!, before.values.get(k)!, { rel: 1e-6, abs: 1e-6 }, k);
    expect(after.c.notes.some((n) => n.startsWith('pads-to-concat:'))).to.equal(true);
    expect(count(after.c.graph, 'pad')).to.be.below(count(before.c.graph, 'pad'));
    expect(after.c.kernels.size).to.be.below(before.c.kernels.size);
    console.log(`      kernels: ${before.c.kernels.size} without pads-to-concat, ${after.c.kernels.size} with`);
  });
});
