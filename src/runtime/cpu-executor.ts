// The CPU reference executor: runs a graph with every op's reference kernel. It is the oracle
// for tests (f32: rounds like the device; f64: for gradient checks), not a performance path.

import type { Graph } from '../graph/index.js';
import type { HostTensor } from '../ops/host.js';
import { evaluateReference } from '../ops/evaluate.js';
import { requestedOutputs, type Executor, type Feeds, type ParamStore } from './executor.js';

export class CpuExecutor implements Executor {
  readonly kind = 'cpu' as const;

  /** `f32` rounds every result to its dtype as the device stores it; `f64` keeps full precision. */
  constructor(readonly precision: 'f32' | 'f64' = 'f32') {}

  async run(graph: Graph, feeds: Feeds, params: ParamStore, outputs?: readonly string[]): Promise<Map<string, HostTensor>> {
    return this.runSync(graph, feeds, params, outputs);
  }

  runSync(graph: Graph, feeds: Feeds, params: ParamStore, outputs?: readonly string[]): Map<string, HostTensor> {
    const values = this.evaluate(graph, feeds, params);
    return new Map(requestedOutputs(graph, outputs).map(([name, id]) => [name, values.get(id)!]));
  }

  /** Every node's value, by node id. */
  evaluate(graph: Graph, feeds: Feeds, params: ParamStore): Map<number, HostTensor> {
    return evaluateReference(graph, feeds, params, this.precision);
  }
}
