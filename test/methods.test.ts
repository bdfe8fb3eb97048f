import { expect } from 'chai';
import { applySpec, compose, printGraph, inspectGraph, compile, CpuExecutor, MethodError, DecodeError, type MethodResult } from '../src/index.js';
import { backbone, batch, paramsFor, gradients, trainOnDevice } from './methods-harness.js';
import { expectClose } from './helpers.js';

/** `factor`: the loss must fall at least this much (first / last step) on a fixed batch. */
interface Case { spec: Record<string, unknown>; kinds: ('gpt2' | 'bert')[]; steps: number; lr: number; factor: { gpt2: number; bert: number } }

const CASES: Case[] = [
  // Measured: prompt tuning 1.29x (gpt2) / 1.12x (bert); deep prompts >= 1.3x on both.
  { spec: { method: 'prompt-tuning', length: 4 }, kinds: ['gpt2', 'bert'], steps: 80, lr: 0.1, factor: { gpt2: 1.2, bert: 1.08 } },
  { spec: { method: 'prefix-tuning', length: 3, reparam: { hidden: 24 } }, kinds: ['gpt2', 'bert'], steps: 80, lr: 0.02, factor: { gpt2: 1.3, bert: 1.3 } },
  { spec: { method: 'p-tuning-v2', length: 3 }, kinds: ['gpt2', 'bert'], steps: 80, lr: 0.1, factor: { gpt2: 1.3, bert: 1.3 } },
];

describe('methods as graph transforms', () => {
  for (const c of CASES) {
    for (const kind of c.kinds) {
      describe(`${String(c.spec.method)} on ${kind}-tiny`, () => {
        let r: MethodResult;
        const bb = backbone(kind);
        before(() => { r = applySpec(bb.graph, c.spec); });

        it('inserts trainable prompt nodes and leaves the backbone frozen', () => {
          const g = r.graph;
          expect(r.trainable.length).to.be.greaterThan(0);
          for (const p of g.params()) {
            const name = String(p.attrs.name);
            expect(p.attrs.trainable === true, name).to.equal(r.trainable.includes(name));
          }
          const report = inspectGraph(compile(g, { train: true, trainable: r.trainable }).graph);
          expect(report.summary.trainablePercent).to.be.below(50);
          expect(printGraph(g)).to.match(/prefix|prompt/);
        });

        it('WebGPU gradients equal the CPU executor, and agree with finite differences', async () => {
          const params = paramsFor(r, bb.weights);
          const feeds = batch(kind);
          const g = await gradients(r, params, feeds);
          for (const n of g.names) expectClose(g.gpu.get(n)!, g.cpu.get(n)!, { rel: 1e-3, abs: 1e-5 }, `webgpu ${n}`);
          // Finite differences (f64) on a few elements of each trainable parameter.
          const lossGraph = compile(r.graph, { trainable: r.trainable, fuse: false }).graph;
          const f64 = new CpuExecutor('f64');
          const loss = (p: typeof params): number => f64.runSync(lossGraph, feeds, p, ['loss']).get('loss')!.data[0];
          const grads64 = await gradients64(r, params, feeds);
          for (const name of r.trainable) {
            const x = params.get(name)!;
            for (const k of [0, Math.floor(x.data.length / 2), x.data.length - 1]) {
              const eps = 1e-6;
              const plus = new Map(params); plus.set(name, { ...x, data: x.data.map((v, i) => (i === k ? v + eps : v)) });
              const minus = new Map(params); minus.set(name, { ...x, data: x.data.map((v, i) => (i === k ? v - eps : v)) });
              const fd = (loss(plus) - loss(minus)) / (2 * eps);
              const a = grads64.get(`grad:${name}`)!.data[k];
              expect(Math.abs(a - fd), `d loss/d ${name}[${k}]: ${a} vs ${fd}`).to.be.at.most(1e-6 * Math.max(1, Math.abs(fd)));
            }
          }
        });

        it(`lowers the loss by ${c.factor[kind]}x in ${c.steps} steps; backbone weights bit-identical`, async () => {
          const params = paramsFor(r, bb.weights);
          const { losses, final } = await trainOnDevice(r, params, batch(kind), c.steps, c.lr);
          expect(losses[0] / losses[losses.length - 1], `loss ${losses[0]} -> ${losses[losses.length - 1]}`).to.be.at.least(c.factor[kind]);
          for (const [name, w] of bb.weights) expect(Array.from(final.get(name)!.data), name).to.deep.equal(Array.from(w.data.map(Math.fround)));
        });
      });
    }
  }

  describe('bad input', () => {
    it('a prefix that overflows the position table names the method and the numbers', () => {
      const bb = backbone('gpt2');
      expect(() => applySpec(bb.graph, { method: 'prefix-tuning', length: 30 })).to.throw(MethodError, /prefix-tuning: positions 30\.\.37 overflow the position table of 32/);
    });
    it('a config field of the wrong type names the JSON path', () => {
      const bb = backbone('gpt2');
      expect(() => applySpec(bb.graph, { method: 'prompt-tuning', length: 'four' })).to.throw(DecodeError, /\$\.length: expected/);
    });
    it('an unknown method lists the known ones', () => {
      expect(() => applySpec(backbone('gpt2').graph, { method: 'magic' })).to.throw(MethodError, /unknown method 'magic'; known methods: .*prefix-tuning/);
    });
  });

  it('composes methods: prompt tuning + prefix-tuning', () => {
    const r = compose(backbone('gpt2').graph, [{ method: 'prompt-tuning', length: 2 }, { method: 'prefix-tuning', length: 3, reparam: null }]);
    expect(r.trainable).to.have.members(['prompt.embeddings', 'prefix.embeddings']);
    expect(r.inputPositions).to.equal(2);
    expect(r.keyPositions).to.equal(3);
  });
});

async function gradients64(r: MethodResult, params: Map<string, import('../src/index.js').HostTensor>, feeds: import('../src/index.js').Feeds) {
  const c = compile(r.graph, { train: true, optimizer: false, trainable: r.trainable, fuse: false });
  return new CpuExecutor('f64').runSync(c.graph, feeds, params, r.trainable.map((n) => `grad:${n}`));
}
