// Infix-tuning (prefix-tuning's infix ablation): pinned to prefix-tuning exactly when the infix
// sits in front, then trained in the middle of the sequence.
import { expect } from 'chai';
import { applySpec, buildBackbone, compile, CpuExecutor, hostTensor, initParams, MethodError, randomTensor, type Feeds, type HostTensor, type ParamStore } from '../src/index.js';
import { backbone, batch, gradients, paramsFor, tinyConfig, trainOnDevice, B, S } from './methods-harness.js';
import { expectClose } from './helpers.js';

const P = 3;

/** `[B, n]` i32 rows: `front` values in front of each row of `x`. */
function prepend(x: HostTensor, front: number[]): HostTensor {
  const [rows, n] = x.shape;
  const data: number[] = [];
  for (let r = 0; r < rows; r++) data.push(...front, ...Array.from(x.data.subarray(r * n, (r + 1) * n)));
  return hostTensor([rows, n + front.length], 'i32', data);
}

/** Outputs `names` of `graph` on the CPU executor in f64. */
function run(graph: ReturnType<typeof buildBackbone>, feeds: Feeds, params: ParamStore, names: string[]): Map<string, HostTensor> {
  const c = compile(graph, { params: new Map(params), trainable: [], fuse: false, fold: false });
  return new CpuExecutor('f64').runSync(c.graph, feeds, c.params, names);
}

/** Positions infix-positions..: the infix's logits at [:, P:] against prefix-tuning's logits. */
function frontLogits(kind: 'gpt2' | 'bert'): { infix: HostTensor; prefix: HostTensor } {
  const config = tinyConfig(kind);
  const weights = backbone(kind).weights;
  const L = config.layers, D = config.dim;
  const table = randomTensor([P, L * 2 * D], 21, { low: -0.5, high: 0.5 });
  const ids = randomTensor([B, S], 4, { dtype: 'i32', low: 1, high: 40 });
  const mask = hostTensor([B, S], 'i32', Array.from({ length: B * S }, (_, i) => (i === B * S - 1 ? 0 : 1)));

  const prefix = applySpec(buildBackbone(config, { batch: B, seq: S, labels: false }), { method: 'prefix-tuning', length: P, reparam: null, positions: 'shifted' });
  const pFeeds: Record<string, HostTensor> = { input_ids: ids, attention_mask: mask };
  const infix = applySpec(buildBackbone(config, { batch: B, seq: P + S, labels: false }), { method: 'infix-tuning', length: P, reparam: null });
  const iFeeds: Record<string, HostTensor> = {
    input_ids: prepend(ids, new Array(P).fill(0)),
    attention_mask: prepend(mask, new Array(P).fill(1)),
    prompt_positions: prepend(hostTensor([B, S], 'i32', new Array(B * S).fill(-1)), [...Array(P).keys()]),
  };
  if (kind === 'bert') {
    pFeeds.token_type_ids = hostTensor([B, S], 'i32', new Array(B * S).fill(0));
    iFeeds.token_type_ids = hostTensor([B, P + S], 'i32', new Array(B * (P + S)).fill(0));
  }
  const pOut = run(prefix.graph, pFeeds, initParams(prefix.graph, 0, new Map([...weights, ['prefix.embeddings', table]])), ['logits']).get('logits')!;
  const iOut = run(infix.graph, iFeeds, initParams(infix.graph, 0, new Map([...weights, ['infix.embeddings', table]])), ['logits']).get('logits')!;
  // Drop the infix positions' own logits.
  const V = iOut.shape[2];
  const kept: number[] = [];
  for (let r = 0; r < B; r++) kept.push(...Array.from(iOut.data.subarray((r * (P + S) + P) * V, (r + 1) * (P + S) * V)));
  return { infix: hostTensor([B, S, V], 'f32', kept), prefix: pOut };
}

/** An infix after the first 3 tokens of every row (row 1: after 2). */
const MID = hostTensor([B, S], 'i32', [-1, -1, -1, 0, 1, 2, -1, -1, -1, -1, 0, 1, 2, -1, -1, -1]);

describe('infix-tuning (the infix ablation of prefix-tuning)', () => {
  for (const kind of ['gpt2', 'bert'] as const) {
    it(`${kind}: an infix in front of the sequence is exactly prefix-tuning with shifted positions`, () => {
      const { infix, prefix } = frontLogits(kind);
      expect(prefix.shape).to.deep.equal(infix.shape);
      let diff = 0;
      for (let i = 0; i < prefix.data.length; i++) diff = Math.max(diff, Math.abs(prefix.data[i] - infix.data[i]));
      expect(diff).to.be.below(1e-9);
    });
  }

  describe('an infix in the middle of the sequence (gpt2-tiny, MLP reparameterization)', () => {
    const bb = backbone('gpt2');
    const r = applySpec(bb.graph, { method: 'infix-tuning', length: P, reparam: { hidden: 24 } });
    const feeds = { ...batch('gpt2'), prompt_positions: MID };

    it('declares the infix MLP trainable and leaves positions and masks alone', () => {
      expect(r.trainable).to.have.members(['infix.embedding', 'infix.transform.0.weight', 'infix.transform.0.bias', 'infix.transform.2.weight', 'infix.transform.2.bias']);
      expect(r.inputPositions + r.keyPositions).to.equal(0);
      expect(r.graph.inputs().map((n) => String(n.attrs.name))).to.include('prompt_positions');
    });

    it('WebGPU gradients equal the CPU executor', async () => {
      const g = await gradients(r, paramsFor(r, bb.weights), feeds);
      for (const n of g.names) expectClose(g.gpu.get(n)!, g.cpu.get(n)!, { rel: 1e-3, abs: 1e-5 }, `webgpu ${n}`);
    });

    it('gradients agree with finite differences (f64)', () => {
      const params = paramsFor(r, bb.weights);
      const lossGraph = compile(r.graph, { trainable: r.trainable, fuse: false }).graph;
      const grads = new CpuExecutor('f64').runSync(compile(r.graph, { train: true, optimizer: false, trainable: r.trainable, fuse: false }).graph, feeds, params, r.trainable.map((n) => `grad:${n}`));
      const f64 = new CpuExecutor('f64');
      const loss = (p: ParamStore): number => f64.runSync(lossGraph, feeds, p, ['loss']).get('loss')!.data[0];
      for (const name of r.trainable) {
        const x = params.get(name)!;
        for (const k of [0, x.data.length - 1]) {
          const eps = 1e-6;
          const at = (d: number): ParamStore => new Map(params).set(name, { ...x, data: x.data.map((v, i) => (i === k ? v + d : v)) });
          const fd = (loss(at(eps)) - loss(at(-eps))) / (2 * eps);
          const a = grads.get(`grad:${name}`)!.data[k];
          expect(Math.abs(a - fd), `d loss/d ${name}[${k}]: ${a} vs ${fd}`).to.be.at.most(1e-6 * Math.max(1, Math.abs(fd)));
        }
      }
    });

    it('lowers the loss by 1.3x in 80 steps; backbone weights bit-identical', async () => {
      const { losses, final } = await trainOnDevice(r, paramsFor(r, bb.weights), feeds, 80, 0.02);
      expect(losses[0] / losses[losses.length - 1], `loss ${losses[0]} -> ${losses[losses.length - 1]}`).to.be.at.least(1.3);
      for (const [name, w] of bb.weights) expect(Array.from(final.get(name)!.data), name).to.deep.equal(Array.from(w.data.map(Math.fround)));
    });
  });

  it('bad input: length 0, p-tuning in the same graph, an earlier prompt-tuning', () => {
    const bb = backbone('gpt2');
    expect(() => applySpec(bb.graph, { method: 'infix-tuning', length: 0 })).to.throw(MethodError, /infix-tuning: length must be >= 1, got 0/);
    const pt = applySpec(bb.graph, { method: 'p-tuning', virtualTokens: 2, encoder: 'none' });
    expect(() => applySpec(pt.graph, { method: 'infix-tuning', length: 3 })).to.throw(MethodError, /already has a 'prompt_positions' input/);
    const infix = applySpec(bb.graph, { method: 'infix-tuning', length: 3 });
    expect(() => applySpec(infix.graph, { method: 'p-tuning', virtualTokens: 2 })).to.throw(MethodError, /p-tuning: the graph already has a 'prompt_positions' input/);
    const prompt = applySpec(bb.graph, { method: 'prompt-tuning', length: 2 });
    expect(() => applySpec(prompt.graph, { method: 'infix-tuning', length: 3 })).to.throw(MethodError, /apply infix-tuning before methods that add input positions/);
  });
});
