import { expect } from 'chai';
import {
  GraphBuilder, compile, buildBackbone, gpt2TinyConfig, randomWeights, hostTensor, chunkRows, unshardParams,
  CompileError, CpuProgram, Program, type Compiled, type Feeds, type HostTensor, type KernelTarget, type ParamStore, DEFAULT_TARGET,
} from '../src/index.js';
import { gpu } from './setup.js';
import { expectClose } from './helpers.js';

const TOL = { rel: 1e-5, abs: 1e-5 };
const cfg = gpt2TinyConfig({ vocabSize: 40, dim: 16, heads: 2, inner: 64, positions: 16 });
const feeds: Feeds = {
  input_ids: hostTensor([1, 4], 'i32', [3, 17, 39, 28]),
  attention_mask: hostTensor([1, 4], 'i32', [1, 1, 1, 1]),
  labels: hostTensor([1, 4], 'i32', [17, 39, 28, 0]),
};

/** A target whose binding limit is `limit` bytes (a [40,16] f32 table, 2560 bytes, splits in 3 at 1024). */
async function targetWith(limit?: number): Promise<KernelTarget> {
  const t = (await gpu()).target;
  return limit === undefined ? t : { ...t, maxStorageBufferBindingSize: limit };
}

async function runBoth(c: Compiled, params: ParamStore, read: string[]): Promise<[Map<string, HostTensor>, Map<string, HostTensor>]> {
  const cpu = await new CpuProgram(c, params).run(feeds, read);
  const program = await Program.create(await gpu(), c, params);
  try {
    return [cpu, await program.run(feeds, read)];
  } finally {
    program.release();
  }
}

/** grad:<param> outputs as a store keyed by parameter name, chunks reassembled. */
function grads(values: Map<string, HostTensor>): ParamStore {
  return unshardParams(new Map([...values].map(([k, v]) => [k.slice('grad:'.length), v] as const)));
}

describe('shard pass', () => {
  it('splits rows into balanced chunks within the limit', () => {
    expect(chunkRows({ shape: [40, 16], dtype: 'f32' }, 1024, 'w')).to.deep.equal([14, 14, 12]);
    expect(chunkRows({ shape: [50257, 768], dtype: 'f32' }, 134217728, 'wte')).to.deep.equal([25129, 25128]);
    expect(() => chunkRows({ shape: [2, 1024], dtype: 'f32' }, 1024, 'w')).to.throw(CompileError, /one row/);
  });

  it('changes nothing when every parameter fits', () => {
    const g = buildBackbone(cfg, { batch: 1, seq: 4, labels: false });
    const c = compile(g, { params: randomWeights(cfg, 1), target: DEFAULT_TARGET });
    expect(c.stages.find((s) => s.pass === 'shard')!.changed).to.equal(false);
  });

  it('GPT-2 tiny gives the same logits sharded and unsharded (CPU and WebGPU)', async () => {
    const g = buildBackbone(cfg, { batch: 1, seq: 4, labels: false });
    const weights = randomWeights(cfg, 1);
    const plain = new Map(weights), sharded = new Map(weights);
    const c0 = compile(g, { params: plain, target: await targetWith() });
    const c1 = compile(g, { params: sharded, target: await targetWith(1024) });
    const names = c1.graph.params().map((p) => String(p.attrs.name));
    expect(names).to.include.members(['wte.weight#0', 'wte.weight#1', 'wte.weight#2']);
    expect(names).to.not.include('wte.weight');
    expect(sharded.has('wte.weight')).to.equal(false);
    expectClose(unshardParams(sharded).get('wte.weight')!, weights.get('wte.weight')!, { rel: 0, abs: 0 }, 'reassembled wte');
    const [cpu0, gpu0] = await runBoth(c0, plain, ['logits']);
    const [cpu1, gpu1] = await runBoth(c1, sharded, ['logits']);
    expectClose(cpu1.get('logits')!, cpu0.get('logits')!, TOL, 'cpu sharded vs plain');
    expectClose(gpu1.get('logits')!, gpu0.get('logits')!, TOL, 'webgpu sharded vs plain');
    expectClose(gpu1.get('logits')!, cpu0.get('logits')!, TOL, 'webgpu sharded vs cpu');
  });

  it('gives a trainable sharded table the gradient of the unsharded one', async () => {
    const g = buildBackbone(cfg, { batch: 1, seq: 4 });
    const weights = randomWeights(cfg, 2);
    const opts = { train: true, optimizer: false, trainable: ['wte.weight', 'h.0.mlp.c_fc.weight'] } as const;
    const plain = new Map(weights), sharded = new Map(weights);
    const c0 = compile(g, { ...opts, params: plain, target: await targetWith() });
    const c1 = compile(g, { ...opts, params: sharded, target: await targetWith(1024) });
    const out1 = [...c1.graph.outputs.keys()].filter((k) => k.startsWith('grad:'));
    expect(out1).to.include.members(['grad:wte.weight#0', 'grad:wte.weight#2', 'grad:h.0.mlp.c_fc.weight#3']);
    const [cpu0, gpu0] = await runBoth(c0, plain, ['loss', 'grad:wte.weight', 'grad:h.0.mlp.c_fc.weight']);
    const [cpu1, gpu1] = await runBoth(c1, sharded, ['loss', ...out1]);
    for (const [a, e, what] of [[cpu1, cpu0, 'cpu'], [gpu1, gpu0, 'webgpu'], [gpu1, cpu0, 'webgpu vs cpu']] as const) {
      expectClose(a.get('loss')!, e.get('loss')!, TOL, `${what} loss`);
      const ga = grads(a), ge = grads(e);
      for (const name of ['wte.weight', 'h.0.mlp.c_fc.weight']) expectClose(ga.get(name)!, ge.get(name)!, TOL, `${what} grad ${name}`);
    }
  });

  it('names the op and scope of a use it cannot shard', () => {
    const b = new GraphBuilder();
    const w = b.param('table', [40, 16]);
    b.output('y', b.within('head', () => b.sum(b.exp(w), [0])));
    expect(() => compile(b.graph, { target: { ...DEFAULT_TARGET, maxStorageBufferBindingSize: 1024 } }))
      .to.throw(CompileError, /cannot shard use of table by exp \(%\d+ @head\)/);
  });

  it('runs a GPT-2-small-sized tied embedding (wte [50257, 768]) on WebGPU with the real limit', async function () {
    const ctx = await gpu();
    const [V, D] = [50257, 768];
    if (V * D * 4 <= ctx.target.maxStorageBufferBindingSize) this.skip(); // this device binds it whole
    const b = new GraphBuilder();
    const ids = b.input('input_ids', [1, 4], 'i32');
    const w = b.param('wte.weight', [V, D]);
    const h = b.gather(w, ids);
    b.output('hidden', h);
    b.output('logits', b.matmul(h, w, { transB: true }));
    const data = new Float64Array(V * D);
    for (let i = 0; i < data.length; i++) data[i] = Math.fround(((Math.imul(i + 1, 2654435761) >>> 8) / (1 << 24) - 0.5) * 0.04);
    const params: ParamStore = new Map([['wte.weight', { shape: [V, D], dtype: 'f32', data }]]);
    const c = compile(b.graph, { params, target: ctx.target });
    expect(c.graph.params().map((p) => String(p.attrs.name))).to.deep.equal(['wte.weight#0', 'wte.weight#1']);
    const tokens = [0, 25128, 25129, 50256];
    const program = await Program.create(ctx, c, params);
    let out: Map<string, HostTensor>;
    try {
      out = await program.run({ input_ids: hostTensor([1, 4], 'i32', tokens) }, ['hidden', 'logits']);
    } finally {
      program.release();
    }
    const hidden = out.get('hidden')!, logits = out.get('logits')!;
    for (let s = 0; s < 4; s++) {
      for (let d = 0; d < D; d++) expect(hidden.data[s * D + d]).to.equal(data[tokens[s] * D + d]);
    }
    // Check a spread of logits (all of them in f64 would take a while): rows, both chunks, the edges.
    for (let s = 0; s < 4; s++) {
      for (const v of [0, 1, 25127, 25128, 25129, 40000, 50256, tokens[s]]) {
        let e = 0;
        for (let d = 0; d < D; d++) e += data[tokens[s] * D + d] * data[v * D + d];
        expect(Math.abs(logits.data[s * V + v] - e), `logit [${s}, ${v}]`).to.be.below(1e-5 + 1e-5 * Math.abs(e));
      }
    }
  });
});
