// A forward-only runner of a spec's graph (backbone + methods + the task's head) with trained
// parameters, for evaluation; and the argmax the metrics read off its logits.

import type { ParamStore } from '../ops/index.js';
import { initParams } from '../ops/index.js';
import { prepare, type LoadedModel } from './run.js';
import { createRunner, type ExecutorKind, type Runner } from './runner.js';
import type { RunSpec } from './spec.js';

/** Refuses trained parameters the graph does not have (another spec's run). */
export async function forwardRunner(spec: RunSpec, model: LoadedModel, trained: ParamStore, executor: ExecutorKind): Promise<Runner> {
  const { batchSize, maxLength } = spec.training;
  const graph = prepare(spec, model, { batch: batchSize, seq: maxLength }).method.graph;
  const names = new Set(graph.params().map((p) => String(p.attrs.name)));
  const unknown = [...trained.keys()].filter((n) => !names.has(n));
  if (unknown.length) throw new Error(`evaluate: the trained parameters ${unknown.slice(0, 3).join(', ')}${unknown.length > 3 ? ', ...' : ''} are not in the model (another spec's run?)`);
  const params: ParamStore = new Map([...initParams(graph, spec.training.seed ?? 0, model.weights), ...trained]);
  // Evaluated as trained: with the same storage of the frozen weights.
  return createRunner(executor, graph, { train: false, frozenStorage: spec.training.frozenStorage }, params);
}

export function argmax(data: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  for (let c = 1; c < n; c++) if (data[offset + c] > data[offset + best]) best = c;
  return best;
}

/** Rows in batches of exactly `size`: the last is filled with copies of its first row; `real` counts the others. */
export function* fixedBatches<T>(rows: readonly T[], size: number): Generator<{ rows: T[]; real: number }> {
  for (let i = 0; i < rows.length; i += size) {
    const chunk = rows.slice(i, i + size);
    const real = chunk.length;
    while (chunk.length < size) chunk.push(chunk[0]);
    yield { rows: chunk, real };
  }
}
