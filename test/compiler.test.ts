import { expect } from 'chai';
import {
  GraphBuilder, compile, graphAfter, printGraph, initParams, hostTensor, randomTensor, inspectGraph, Program, CpuProgram,
  optimizerFeeds, appendBackward, refOf, CompileError, GraphError, GpuExecutor, CpuExecutor, type Feeds,
  type StepRunner, withOptimizerState,
} from '../src/index.js';
import { gpu } from './setup.js';
import { expectClose } from './helpers.js';
import { mlp, transformer, type BlockConfig } from './models.js';

function mlpData(): Feeds {
  return { x: randomTensor([8, 6], 5), labels: hostTensor([8], 'i32', [0, 1, 2, 3, 3, 2, 1, 0]) };
}

async function train(runner: StepRunner, feeds: Feeds, steps: number, lr: number): Promise<number[]> {
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const out = await runner.run({ ...feeds, ...optimizerFeeds(t, lr) }, ['loss']);
    losses.push(out.get('loss')!.data[0]);
  }
  return losses;
}

describe('compiler', () => {
  it('keeps the graph after every pass, validated, in order', () => {
    const b = new GraphBuilder();
    mlp(b);
    const c = compile(b.graph, { train: true, params: initParams(b.graph, 1) });
    expect(c.stages.map((s) => s.pass)).to.deep.equal(['input', 'freeze', 'unmark', 'shard', 'fuse-attention', 'autodiff', 'adamw', 'pads-to-concat', 'dce', 'cse', 'fold', 'dce', 'fusion', 'split-concat']);
    expect(printGraph(graphAfter(c, 'autodiff'))).to.contain('= matmul');
    expect([...graphAfter(c, 'autodiff').outputs.keys()]).to.include.members(['loss', 'grad:fc1.w', 'grad:fc2.b']);
    expect([...c.graph.outputs.keys()]).to.include.members(['next:fc1.w', 'next:optim.m.fc1.w', 'next:optim.v.fc1.w']);
  });

  it('trains a tiny MLP on WebGPU with the same losses as the CPU executor', async () => {
    const b = new GraphBuilder();
    mlp(b);
    const params = initParams(b.graph, 3);
    const c = compile(b.graph, { train: true, params, target: (await gpu()).target });
    const program = await Program.create(await gpu(), c, params);
    const cpu = new CpuProgram(c, params);
    const steps = 40;
    const [dev, ref] = [await train(program, mlpData(), steps, 0.05), await train(cpu, mlpData(), steps, 0.05)];
    program.release();
    for (let i = 0; i < 5; i++) expect(Math.abs(dev[i] - ref[i]) / Math.abs(ref[i]), `step ${i + 1}: ${dev[i]} vs ${ref[i]}`).to.be.at.most(1e-4);
    expect(dev[steps - 1], `loss ${dev[0]} -> ${dev[steps - 1]}`).to.be.below(dev[0] / 10);
  });

  it('trains a 2-layer transformer block on WebGPU like the CPU executor', async () => {
    const cfg: BlockConfig = { batch: 2, seq: 8, dim: 16, heads: 2, layers: 2, vocab: 24 };
    const b = new GraphBuilder();
    transformer(b, cfg, { trainableBackbone: true });
    const params = initParams(b.graph, 7);
    const c = compile(b.graph, { train: true, params, target: (await gpu()).target });
    const ids = randomTensor([2, 8], 9, { dtype: 'i32', low: 0, high: 24 });
    const labels = hostTensor([2, 8], 'i32', [...ids.data.slice(1, 8), -100, ...ids.data.slice(9, 16), -100]);
    const feeds = { input_ids: ids, labels };
    const program = await Program.create(await gpu(), c, params);
    const steps = 30;
    const dev = await train(program, feeds, steps, 0.01);
    const ref = await train(new CpuProgram(c, params), feeds, 3, 0.01);
    program.release();
    for (let i = 0; i < 3; i++) expect(Math.abs(dev[i] - ref[i]) / Math.abs(ref[i]), `step ${i + 1}: ${dev[i]} vs ${ref[i]}`).to.be.at.most(1e-4);
    expect(dev[steps - 1], `loss ${dev[0]} -> ${dev[steps - 1]}`).to.be.below(dev[0] / 3);
  });

  it('differentiates only toward trainable values: no frozen-weight gradient, <= 0.7x the FLOPs of full fine-tuning', () => {
    const cfg: BlockConfig = { batch: 2, seq: 8, dim: 16, heads: 2, layers: 2, vocab: 24, prompt: 4 };
    const prompt = new GraphBuilder();
    transformer(prompt, cfg, { trainableBackbone: false });
    const g = prompt.graph.clone();
    const b = new GraphBuilder(g);
    const frozen = g.params().filter((p) => p.attrs.trainable !== true);
    const trainable = g.params().filter((p) => p.attrs.trainable === true);
    expect(trainable.map((p) => p.attrs.name)).to.deep.equal(['prompt.embeddings']);
    const { cotangents } = appendBackward(b, refOf(g.output('loss')), b.constant(1), trainable.map((p) => p.id));
    for (const p of frozen) expect(cotangents.has(p.id), `cotangent built for frozen ${String(p.attrs.name)}`).to.equal(false);
    // Gradients still flow through the frozen layers above the prompt.
    expect(cotangents.has(g.nodes.find((n) => n.op === 'layernorm' && n.scope === 'h.1.ln_1')!.id)).to.equal(true);

    const full = new GraphBuilder();
    transformer(full, cfg, { trainableBackbone: true });
    const promptReport = inspectGraph(compile(prompt.graph, { train: true, fuse: false }).graph);
    const fullReport = inspectGraph(compile(full.graph, { train: true, fuse: false }).graph);
    const ratio = promptReport.summary.flops.total / fullReport.summary.flops.total;
    expect(ratio, `step FLOPs ratio prompt/full = ${ratio.toFixed(3)}`).to.be.at.most(0.7);
    expect(promptReport.summary.trainableParameters).to.equal(4 * 16);
  });

  it('fused and unfused programs agree, and fusion cuts kernels', async () => {
    const b = new GraphBuilder();
    mlp(b);
    const params = initParams(b.graph, 3);
    const fused = compile(b.graph, { train: true, params: new Map(params) });
    const plain = compile(b.graph, { train: true, params: new Map(params), fuse: false });
    expect(fused.kernels.size).to.be.below(plain.kernels.size);
    const feeds = { ...mlpData(), ...optimizerFeeds(1, 0.05) };
    const ctx = await gpu();
    const names = [...plain.graph.outputs.keys()];
    const fusedParams = withOptimizerState(fused.graph, fused.params);
    const plainParams = withOptimizerState(plain.graph, plain.params);
    const a = await new GpuExecutor(ctx).run(fused.graph, feeds, fusedParams, names);
    const r = await new GpuExecutor(ctx).run(plain.graph, feeds, plainParams, names);
    const cpuFused = new CpuExecutor().runSync(fused.graph, feeds, fusedParams, names);
    for (const n of names) {
      expectClose(a.get(n)!, r.get(n)!, { rel: 1e-5, abs: 1e-6 }, `fused vs unfused ${n}`);
      expectClose(a.get(n)!, cpuFused.get(n)!, { rel: 1e-4, abs: 1e-5 }, `fused webgpu vs cpu ${n}`);
    }
  });

  it('frozen parameters are read-only device buffers shared across compiled programs', async () => {
    const b = new GraphBuilder();
    mlp(b);
    const params = initParams(b.graph, 3);
    const ctx = await gpu();
    // Only fc2 trains: fc1 is frozen in both programs and uploaded once.
    const c1 = compile(b.graph, { train: true, trainable: ['fc2.w', 'fc2.b'], params: new Map(params), target: ctx.target });
    const c2 = compile(b.graph, { train: false, params: new Map(params), fold: false, target: ctx.target });
    const p1 = await Program.create(ctx, c1, params), p2 = await Program.create(ctx, c2, params);
    const w = params.get('fc1.w')!;
    const shared = ctx.shareFrozen(w);
    expect(ctx.shareFrozen(w)).to.equal(shared);
    ctx.unshareFrozen(w); ctx.unshareFrozen(w);
    expect(() => p1.writeParam('fc1.w', w)).to.throw(/frozen: its device copy is shared read-only/);
    p1.release(); p2.release();
  });

  it('plans memory below the sum of all tensors and reports the peak', () => {
    const b = new GraphBuilder();
    transformer(b, { batch: 2, seq: 8, dim: 16, heads: 2, layers: 2, vocab: 24 }, { trainableBackbone: true });
    const c = compile(b.graph, { train: true });
    expect(c.plan.peakBytes).to.be.below(c.plan.unplannedBytes);
    expect(inspectGraph(c.graph).summary.peakBytes).to.equal(c.plan.peakBytes);
  });

  describe('bad input', () => {
    it('a loss that is not a scalar', () => {
      const b = new GraphBuilder();
      const x = b.input('x', [3]);
      b.output('loss', b.within('head', () => b.mul(x, b.param('w', [3], { trainable: true }))));
      expect(() => compile(b.graph, { train: true })).to.throw(CompileError, /loss %\d+ mul @head is f32\[3\]; expected a scalar/);
    });
    it('a trainable parameter unreachable from the loss', () => {
      const b = new GraphBuilder();
      const x = b.input('x', [3]);
      b.within('unused', () => b.param('orphan', [2], { trainable: true }));
      b.output('loss', b.sum(b.mul(x, b.param('w', [3], { trainable: true })), [0]));
      expect(() => compile(b.graph, { train: true })).to.throw(CompileError, /trainable parameter 'orphan' \(%\d+ param @unused\) does not reach the loss/);
    });
    it('an op with no gradient rule on the gradient path', () => {
      const b = new GraphBuilder();
      const x = b.input('x', [3]);
      const w = b.param('w', [3], { trainable: true });
      const program = JSON.stringify([{ op: 'mul', args: [0, 1], attrs: {}, type: { shape: [3], dtype: 'f32' } }]);
      const f = b.within('blk', () => b.op('fused', [x, w], { program }, { shape: [3], dtype: 'f32' }));
      b.output('loss', b.sum(f, [0]));
      expect(() => compile(b.graph, { train: true })).to.throw(GraphError, /op 'fused' has no gradient rule, but %\d+ fused @blk lies on the gradient path/);
    });
  });
});


describe('views: reshape binds its input buffer in compiled programs', () => {
  it('no kernel and no memory for inner reshapes (chains resolve to the root); an output reshape is copied; results match the CPU', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [4, 6]);
    const e = b.exp(x);
    const r1 = b.reshape(e, [2, 12]);
    const r2 = b.reshape(r1, [3, 8]);
    b.output('y', b.tanh(r2));
    b.output('z', b.reshape(b.neg(e), [24]));
    b.output('w', b.reshape(x, [6, 4])); // a view of an input that is an output: copied
    const c = compile(b.graph, { fuse: false });
    const g = c.graph;
    const id = (r: { id: number }): number => r.id;
    expect(c.plan.viewOf.get(id(r1))).to.equal(id(e));
    expect(c.plan.viewOf.get(id(r2)), 'a chain of views reads the root').to.equal(id(e));
    expect(c.kernels.has(id(r1)) || c.kernels.has(id(r2))).to.equal(false);
    for (const name of ['z', 'w']) expect(c.kernels.has(g.outputs.get(name)!), `output ${name} gets its copy kernel`).to.equal(true);
    expect(c.plan.slotOf.has(id(r1)) || c.plan.slotOf.has(id(r2))).to.equal(false);
    const feeds = { x: randomTensor([4, 6], 8) };
    const program = await Program.create(await gpu(), c, new Map());
    try {
      const got = await program.run(feeds, ['y', 'z', 'w']);
      const want = new CpuExecutor('f32').runSync(g, feeds, new Map(), ['y', 'z', 'w']);
      for (const k of ['y', 'z', 'w']) expectClose(got.get(k)!, want.get(k)!, { rel: 1e-6, abs: 1e-7 }, k);
    } finally {
      program.release();
    }
  });

  it('the root of a view stays live until the view\'s last reader (its slot is not reused before)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [16]);
    const a = b.exp(x);
    const view = b.reshape(a, [4, 4]);
    const c1 = b.neg(x); // allocated while `a` (through `view`) is still needed
    const c2 = b.tanh(c1);
    b.output('y', b.add(b.reshape(c2, [4, 4]), view));
    const c = compile(b.graph, { fuse: false });
    expect(c.plan.slotOf.get(a.id)).to.not.equal(c.plan.slotOf.get(c1.id));
    expect(c.plan.slotOf.get(a.id)).to.not.equal(c.plan.slotOf.get(c2.id));
  });
});
