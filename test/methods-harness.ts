// Shared pieces of the method tests: tiny backbones with random weights, fixed batches, and
// training / gradient helpers.
import {
  gpt2TinyConfig, bertTinyConfig, randomWeights, buildBackbone, compile, initParams, hostTensor, randomTensor, Program, CpuProgram,
  optimizerFeeds, CpuExecutor, GpuExecutor, withOptimizerState, type ModelConfig, type Feeds, type ParamStore, type Graph, type MethodResult,
} from '../src/index.js';
import { gpu } from './setup.js';

export const B = 2, S = 8;

export function tinyConfig(kind: 'gpt2' | 'bert'): ModelConfig {
  return kind === 'gpt2'
    ? gpt2TinyConfig({ vocabSize: 40, dim: 16, heads: 2, inner: 32, layers: 2, positions: 32 })
    : bertTinyConfig({ vocabSize: 40, dim: 16, heads: 2, inner: 32, layers: 2, positions: 32 });
}

export function backbone(kind: 'gpt2' | 'bert'): { config: ModelConfig; graph: Graph; weights: ParamStore } {
  const config = tinyConfig(kind);
  return { config, graph: buildBackbone(config, { batch: B, seq: S }), weights: randomWeights(config, 5, 0.2) };
}

export function batch(kind: 'gpt2' | 'bert', seed = 3): Feeds {
  const ids = randomTensor([B, S], seed, { dtype: 'i32', low: 1, high: 40 });
  const f: Record<string, ReturnType<typeof hostTensor>> = {
    input_ids: ids,
    attention_mask: hostTensor([B, S], 'i32', [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]),
    labels: hostTensor([B, S], 'i32', Array.from(ids.data, (v, i) => ((i % S) >= 6 && i < S ? -100 : v))),
  };
  if (kind === 'bert') f.token_type_ids = hostTensor([B, S], 'i32', new Array(B * S).fill(0));
  return f;
}

/** Parameters: backbone weights plus the method's own, initialized from their init attributes. */
export function paramsFor(r: MethodResult, weights: ParamStore, seed = 9): ParamStore {
  return initParams(r.graph, seed, weights);
}

/** Gradients of the loss for every trainable parameter, on the CPU reference and on WebGPU. */
export async function gradients(r: MethodResult, params: ParamStore, feeds: Feeds): Promise<{ cpu: Map<string, ReturnType<typeof hostTensor>>; gpu: Map<string, ReturnType<typeof hostTensor>>; names: string[] }> {
  const c = compile(r.graph, { train: true, optimizer: false, trainable: r.trainable, params: new Map(params) });
  const names = [...c.graph.outputs.keys()].filter((k) => k.startsWith('grad:') || k === 'loss');
  const cpu = new CpuExecutor('f32').runSync(c.graph, feeds, c.params, names);
  const dev = await new GpuExecutor(await gpu()).run(c.graph, feeds, c.params, names);
  return { cpu, gpu: dev, names };
}

/** Trains on WebGPU for `steps` and returns the losses and the final parameters. */
export async function trainOnDevice(r: MethodResult, params: ParamStore, feeds: Feeds, steps: number, lr: number): Promise<{ losses: number[]; final: ParamStore }> {
  const ctx = await gpu();
  const c = compile(r.graph, { train: true, trainable: r.trainable, params: new Map(params), target: ctx.target });
  const program = await Program.create(ctx, c, params);
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) losses.push((await program.run({ ...feeds, ...optimizerFeeds(t, lr) }, ['loss'])).get('loss')!.data[0]);
  const final = await program.readParams();
  program.release();
  return { losses, final };
}

export { CpuProgram, withOptimizerState };
