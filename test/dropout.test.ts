// Dropout: the op's WGSL mask equals the host reference bit for bit; heads use it while
// training, seeded per step by the training loop, and compile removes it at inference.
import { expect } from 'chai';
import { lastValueFrom, toArray } from 'rxjs';
import {
  applySpec, compile, CpuProgram, DROPOUT_SEED_INPUT, GraphBuilder, hostTensor, MethodError, randomTensor, stepSeed,
  type Feeds, type HostTensor, type StepRunner,
} from '../src/index.js';
import { trainLoop } from '../src/pipelines/train/loop.js';
import { fromArray } from '../src/pipelines/data/index.js';
import { checkAgainstReference } from './helpers.js';
import { backbone, batch, gradients, paramsFor, B } from './methods-harness.js';
import { expectClose } from './helpers.js';

const seed = (v: number): HostTensor => hostTensor([], 'i32', [v]);

describe('dropout', () => {
  for (const [shape, p] of [[[7, 13], 0.5], [[3, 5, 33], 0.1], [[1000], 0.9]] as const) {
    it(`WebGPU mask = reference bit for bit on [${shape.join(',')}], p=${p}; kept fraction near ${1 - p}`, async () => {
      const x = randomTensor([...shape], 5, { low: 0.5, high: 1.5 }); // never 0, so zeros mark drops
      const { gpu, cpu } = await checkAgainstReference((b) => b.dropout(b.input('x', x.shape), b.input('s', [], 'i32'), p), { x, s: seed(12345) }, { rel: 0, abs: 0 });
      const n = gpu.data.length;
      const kept = gpu.data.filter((v) => v !== 0).length;
      expect(Math.abs(kept / n - (1 - p)), `kept ${kept}/${n}`).to.be.below(4 * Math.sqrt(p * (1 - p) / n) + 1 / n);
      for (let i = 0; i < n; i++) if (gpu.data[i] !== 0) expect(gpu.data[i]).to.equal(Math.fround(x.data[i] * Math.fround(1 / (1 - p))));
      void cpu;
    });
  }

  it('the same seed gives the same mask; another seed another one', async () => {
    const x = randomTensor([64], 2, { low: 1, high: 2 });
    const run = async (s: number): Promise<number[]> =>
      Array.from((await checkAgainstReference((b) => b.dropout(b.input('x', [64]), b.input('s', [], 'i32'), 0.5), { x, s: seed(s) }, { rel: 0, abs: 0 })).gpu.data);
    const [a, again, other] = [await run(7), await run(7), await run(8)];
    expect(again).to.deep.equal(a);
    expect(other).not.to.deep.equal(a);
  });

  it('the inference pass bypasses chained dropouts and drops the seed input', () => {
    const b = new GraphBuilder();
    const s = b.input(DROPOUT_SEED_INPUT, [], 'i32');
    b.output('y', b.exp(b.dropout(b.dropout(b.input('x', [4]), s, 0.5), s, 0.2)));
    const g = compile(b.graph).graph;
    expect(g.nodes.map((n) => n.op)).not.to.include('dropout');
    expect(g.inputs().map((n) => String(n.attrs.name))).to.deep.equal(['x']);
  });

  it('per-step seeds are deterministic, distinct across steps and runs, and below 2^24', () => {
    const seeds = Array.from({ length: 200 }, (_, k) => stepSeed(3, k + 1));
    expect(new Set(seeds).size).to.equal(200);
    expect(seeds.every((s) => s >= 0 && s < 2 ** 24)).to.equal(true);
    expect(stepSeed(3, 10)).to.equal(seeds[9]);
    expect(stepSeed(4, 10)).not.to.equal(seeds[9]);
  });
});

describe('head dropout', () => {
  const bb = backbone('bert');
  const r = applySpec(bb.graph, { method: 'head', task: 'sequence-classification', labels: 3, dropout: 0.3 });
  const feeds = (s: number): Feeds => ({ ...batch('bert'), 'head.labels': hostTensor([B], 'i32', [0, 2]), [DROPOUT_SEED_INPUT]: seed(s) });

  it('training graphs drop features (seeded by dropout_seed); inference graphs have no dropout and no seed input', () => {
    const train = compile(r.graph, { train: true, trainable: r.trainable }).graph;
    expect(train.nodes.some((n) => n.op === 'dropout' || (n.op === 'fused' && JSON.stringify(n.attrs).includes('dropout')))).to.equal(true);
    expect(train.inputs().map((n) => String(n.attrs.name))).to.include(DROPOUT_SEED_INPUT);
    const infer = compile(r.graph, { trainable: r.trainable });
    expect(infer.stages.map((s) => s.pass)).to.include('inference');
    expect(infer.graph.nodes.filter((n) => n.op === 'dropout')).to.have.length(0);
    expect(infer.graph.inputs().map((n) => String(n.attrs.name))).not.to.include(DROPOUT_SEED_INPUT);
  });

  it('WebGPU gradients equal the CPU executor for a given seed; another seed changes the loss', async () => {
    const params = paramsFor(r, bb.weights);
    const a = await gradients(r, params, feeds(11));
    for (const n of a.names) expectClose(a.gpu.get(n)!, a.cpu.get(n)!, { rel: 1e-3, abs: 1e-5 }, `webgpu ${n}`);
    const b = await gradients(r, params, feeds(12));
    expect(b.cpu.get('loss')!.data[0]).not.to.equal(a.cpu.get('loss')!.data[0]);
  });

  it('the training loop feeds a fresh seed every step, the same ones again for the same run seed', async () => {
    const compiled = compile(r.graph, { train: true, trainable: r.trainable });
    const seen = async (runSeed: number): Promise<number[]> => {
      const program = new CpuProgram(compiled, paramsFor(r, bb.weights));
      const seeds: number[] = [];
      // The real CPU program, recording the seed it is fed.
      const runner: StepRunner = {
        run: (f, read) => { seeds.push(f[DROPOUT_SEED_INPUT].data[0]); return program.run(f, read); },
        readParams: (n) => program.readParams(n), writeParam: (n, v) => program.writeParam(n, v), release: () => program.release(),
      };
      const base = feeds(0);
      delete (base as Record<string, HostTensor>)[DROPOUT_SEED_INPUT];
      await lastValueFrom(trainLoop({
        runner, batches: () => fromArray(Array.from({ length: 4 }, () => base)), epochs: 1, totalSteps: 4, lr: 0.01,
        schedule: { kind: 'constant' }, optimizer: {}, trainable: r.trainable, stateNames: r.trainable, logEvery: 1, device: 'cpu', seed: runSeed,
      }).pipe(toArray()));
      return seeds;
    };
    const first = await seen(5);
    expect(first).to.deep.equal([1, 2, 3, 4].map((k) => stepSeed(5, k)));
    expect(await seen(5)).to.deep.equal(first);
  });

  it('bad input: dropout outside [0, 1) names the head and the value', () => {
    expect(() => applySpec(bb.graph, { method: 'head', task: 'sequence-classification', labels: 3, dropout: 1 })).to.throw(MethodError, /head 'head'\) dropout must be in \[0, 1\), got 1/);
  });
});
