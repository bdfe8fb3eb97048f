// What every executor offers, and the checks of what is fed to a graph.

import { formatType, sameType, type Graph, type Node } from '../graph/index.js';
import type { HostTensor } from '../ops/host.js';

export type Feeds = Readonly<Record<string, HostTensor>>;
/** Parameter values by name. */
export type ParamStore = Map<string, HostTensor>;

export interface Executor {
  readonly kind: 'cpu' | 'webgpu';
  /** Runs `graph` and returns the named outputs (all of them by default). */
  run(graph: Graph, feeds: Feeds, params: ParamStore, outputs?: readonly string[]): Promise<Map<string, HostTensor>>;
}

export class FeedError extends Error {
  override name = 'FeedError';
}

/** The host value for a source node (input or param), checked against the node's type. */
export function sourceValue(n: Node, feeds: Feeds, params: ParamStore): HostTensor {
  const name = String(n.attrs.name);
  const kind = n.op === 'input' ? 'input' : 'parameter';
  const v = n.op === 'input' ? feeds[name] : params.get(name);
  if (!v) {
    const known = n.op === 'input' ? Object.keys(feeds) : [...params.keys()];
    throw new FeedError(`no value for ${kind} '${name}' (${formatType(n.type)}); given: ${known.slice(0, 20).join(', ') || 'none'}`);
  }
  if (!sameType(v, n.type)) throw new FeedError(`${kind} '${name}' expects ${formatType(n.type)}, got ${formatType(v)}`);
  return v;
}

export function requestedOutputs(graph: Graph, outputs?: readonly string[]): [string, number][] {
  const names = outputs ?? [...graph.outputs.keys()];
  return names.map((name) => [name, graph.output(name).id]);
}
