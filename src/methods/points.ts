// Finding and editing a backbone's marked insertion points (see models/points.ts).

import { findAll, type Graph, type Node } from '../graph/index.js';
import { GraphBuilder, refOf, type Ref } from '../ops/index.js';
import { POINTS } from '../graph/index.js';
import { MethodError } from './method.js';

export function points(graph: Graph, point: string): Node[] {
  return findAll(graph, { op: 'mark', attrs: { point } });
}

/** The single node marked `point`, or an error naming the method and what the backbone lacks. */
export function point(graph: Graph, name: string, method: string): Node {
  const found = points(graph, name);
  if (found.length !== 1) {
    throw new MethodError(`${method}: the backbone must mark exactly one '${name}' point, found ${found.length} (is this a promptgraph GPT-2/BERT graph?)`);
  }
  return found[0];
}

/** Layer index of a scope like `h.3.attn` or `encoder.layer.3.attention.self`. */
export function layerOf(scope: string): number {
  const m = /(?:^|\.)(?:h|layer)\.(\d+)(?:\.|$)/.exec(scope);
  if (!m) throw new MethodError(`scope '${scope}' names no layer`);
  return Number(m[1]);
}

/** Per layer, the marked key and value nodes ([B,H,S,dh]), in layer order. */
export function layerKeyValues(graph: Graph, method: string): { layer: number; key: Node; value: Node }[] {
  const keys = points(graph, POINTS.key), values = points(graph, POINTS.value);
  if (keys.length === 0 || keys.length !== values.length) throw new MethodError(`${method}: the backbone marks ${keys.length} key and ${values.length} value points`);
  return keys.map((key) => {
    const layer = layerOf(key.scope);
    const value = values.find((v) => layerOf(v.scope) === layer);
    if (!value) throw new MethodError(`${method}: layer ${layer} has a key point but no value point`);
    return { layer, key, value };
  }).sort((a, b) => a.layer - b.layer);
}

/**
 * Rewrites the value at a marked point: `fn` builds the replacement from the marked value, and
 * every former user of the mark reads the replacement instead.
 */
export function rewriteAt(b: GraphBuilder, mark: Node, fn: (x: Ref) => Ref): Ref {
  const g = b.graph;
  const users = g.users(mark.id);
  const outputs = [...g.outputs].filter(([, id]) => id === mark.id).map(([k]) => k);
  const r = b.at({ after: mark.id }, () => b.inScope(mark.scope, () => fn(refOf(mark))));
  for (const u of users) u.inputs = u.inputs.map((i) => (i === mark.id ? r.id : i));
  for (const k of outputs) g.setOutput(k, r.id);
  g.restoreTopologicalOrder();
  return r;
}
