// Helpers for the baseline and head tests: parameter counts from the tiny dims, forward runs
// of uncompiled graphs (op by op, no fusion, so "starts equal to the backbone" can be exact),
// and f64 finite differences.
import { expect } from 'chai';
import { compile, CpuExecutor, type Feeds, type Graph, type HostTensor, type MethodResult, type ModelConfig, type ParamStore } from '../src/index.js';

export type Kind = 'gpt2' | 'bert';

/** Weights of one transformer layer (all its parameters). */
export function layerParams(c: ModelConfig): number {
  const D = c.dim, I = c.inner;
  const linear = (i: number, o: number): number => i * o + o;
  return c.kind === 'gpt2'
    ? 2 * D + linear(D, 3 * D) + linear(D, D) + 2 * D + linear(D, I) + linear(I, D)
    : 4 * linear(D, D) + 2 * D + linear(D, I) + linear(I, D) + 2 * D;
}

/** Parameters that reach the LM loss (BERT's pooler does not). */
export function lossReachingParams(c: ModelConfig): number {
  const D = c.dim;
  if (c.kind === 'gpt2') return c.vocabSize * D + c.positions * D + c.layers * layerParams(c) + 2 * D;
  const embeddings = c.vocabSize * D + c.positions * D + c.typeVocabSize * D + 2 * D;
  const mlmHead = D * D + D + 2 * D + c.vocabSize;
  return embeddings + c.layers * layerParams(c) + mlmHead;
}

/** LoRA with the default targets (GPT-2 c_attn D→3D; BERT query and value D→D). */
export function loraParams(c: ModelConfig, rank: number): number {
  const D = c.dim;
  return c.kind === 'gpt2' ? c.layers * (rank * D + 3 * D * rank) : c.layers * 2 * (rank * D + D * rank);
}

/** Adapters after attention and MLP: down D→r and up r→D with biases. */
export function adapterParams(c: ModelConfig, r: number): number {
  const D = c.dim;
  return c.layers * 2 * (D * r + r + r * D + D);
}

export function countTrainable(r: MethodResult): number {
  return r.graph.params().filter((p) => r.trainable.includes(String(p.attrs.name))).reduce((s, p) => s + p.type.shape.reduce((a, d) => a * d, 1), 0);
}

/** Outputs of a graph evaluated as written (f32 reference, marks included, nothing fused). */
export function forward(g: Graph, feeds: Feeds, params: ParamStore, names: readonly string[]): Map<string, HostTensor> {
  return new CpuExecutor('f32').runSync(g, feeds, params, names);
}

/** d loss / d param[k] by central differences in f64 vs the f64 autodiff gradient, for a few k of each trainable param. */
export function checkFiniteDifferences(r: MethodResult, params: ParamStore, feeds: Feeds, pick: (name: string) => boolean = () => true): void {
  const names = r.trainable.filter(pick);
  const lossGraph = compile(r.graph, { trainable: r.trainable, fuse: false }).graph;
  const gradGraph = compile(r.graph, { train: true, optimizer: false, trainable: r.trainable, fuse: false }).graph;
  const f64 = new CpuExecutor('f64');
  const grads = f64.runSync(gradGraph, feeds, params, names.map((n) => `grad:${n}`));
  const loss = (p: ParamStore): number => f64.runSync(lossGraph, feeds, p, ['loss']).get('loss')!.data[0];
  for (const name of names) {
    const x = params.get(name)!;
    for (const k of [0, Math.floor(x.data.length / 2), x.data.length - 1]) {
      const eps = 1e-6;
      const at = (d: number): ParamStore => new Map(params).set(name, { ...x, data: x.data.map((v, i) => (i === k ? v + d : v)) });
      const fd = (loss(at(eps)) - loss(at(-eps))) / (2 * eps);
      const a = grads.get(`grad:${name}`)!.data[k];
      expect(Math.abs(a - fd), `d loss/d ${name}[${k}]: ${a} vs ${fd}`).to.be.at.most(1e-6 * Math.max(1, Math.abs(fd)));
    }
  }
}
