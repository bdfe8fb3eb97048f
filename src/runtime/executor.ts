// What every executor offers, and the checks of what is fed to a graph.

import type { Graph } from '../graph/index.js';
import type { Feeds, HostTensor, ParamStore } from '../ops/host.js';

export type { Feeds, ParamStore };

export interface Executor {
  readonly kind: 'cpu' | 'webgpu';
  /** Runs `graph` and returns the named outputs (all of them by default). */
  run(graph: Graph, feeds: Feeds, params: ParamStore, outputs?: readonly string[]): Promise<Map<string, HostTensor>>;
}

export { FeedError, sourceValue } from '../ops/evaluate.js';

export function requestedOutputs(graph: Graph, outputs?: readonly string[]): [string, number][] {
  const names = outputs ?? [...graph.outputs.keys()];
  return names.map((name) => [name, graph.output(name).id]);
}
