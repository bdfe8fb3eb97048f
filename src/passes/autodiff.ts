// Reverse-mode autodiff over the IR: appends the backward graph of `y` (seeded with cotangent
// `dy`) toward the nodes in `wrt`, using each op's registry gradient rule.
//
// Only nodes on a path from some `wrt` node to `y` are differentiated: gradients flow through
// frozen layers that lie above a trainable node, and nothing is computed for frozen weights.

import { describeNode, formatType, GraphError, sameType, type Graph, type Node } from '../graph/index.js';
import { decodeAttrs, getOp, type GraphBuilder, type Ref, refOf } from '../ops/index.js';

/** Scope prefix of every backward node, so inspect can split forward and backward costs. */
export const GRAD_SCOPE = 'grad';

/** Ids of nodes that depend on any of `from` (including them). */
export function dependents(graph: Graph, from: Iterable<number>): Set<number> {
  const reach = new Set(from);
  for (const n of graph.nodes) if (n.inputs.some((i) => reach.has(i))) reach.add(n.id);
  return reach;
}

/** Ids of `to` and every node it depends on. */
export function dependencies(graph: Graph, to: number): Set<number> {
  const need = new Set([to]);
  const nodes = graph.nodes;
  for (let k = nodes.length - 1; k >= 0; k--) if (need.has(nodes[k].id)) for (const i of nodes[k].inputs) need.add(i);
  return need;
}

export interface BackwardResult {
  /** Cotangent of each `wrt` node (absent when y does not depend on it). */
  readonly grads: Map<number, Ref>;
  /** Nodes that were differentiated. */
  readonly active: ReadonlySet<number>;
}

export function appendBackward(b: GraphBuilder, y: Ref, dy: Ref, wrt: readonly number[]): BackwardResult {
  const graph = b.graph;
  if (!sameType(y.type, dy.type)) throw new GraphError(`seed cotangent ${formatType(dy.type)} does not match output ${formatType(y.type)}`);
  const down = dependents(graph, wrt);
  const up = dependencies(graph, y.id);
  const active = new Set([...down].filter((id) => up.has(id)));
  const ct = new Map<number, Ref>([[y.id, dy]]);
  const forward = graph.nodes.filter((n) => active.has(n.id)).reverse();
  const wrtSet = new Set(wrt);
  for (const n of forward) {
    const g = ct.get(n.id);
    if (!g || wrtSet.has(n.id) && n.inputs.length === 0) continue;
    if (!n.inputs.some((i) => active.has(i))) continue;
    const def = getOp(n.op);
    if (!def.grad) {
      throw new GraphError(`op '${n.op}' has no gradient rule, but ${describeNode(n)} lies on the gradient path to a trainable value`);
    }
    const attrs = decodeAttrs(def, n.attrs, describeNode(n));
    const inputs = n.inputs.map((i) => refOf(graph.node(i)));
    const results = b.inScope(gradScope(n), () => def.grad!(b, { inputs, output: refOf(n), attrs }, g));
    n.inputs.forEach((i, k) => {
      const r = results[k];
      if (!active.has(i) || !r) return;
      checkCotangent(n, k, graph.node(i), r);
      const prev = ct.get(i);
      ct.set(i, prev ? b.inScope(gradScope(graph.node(i)), () => b.add(prev, r)) : r);
    });
  }
  const grads = new Map<number, Ref>();
  for (const id of wrt) {
    const g = ct.get(id);
    if (g) grads.set(id, g);
  }
  return { grads, active };
}

function gradScope(n: Node): string {
  return n.scope ? `${GRAD_SCOPE}.${n.scope}` : GRAD_SCOPE;
}

function checkCotangent(n: Node, k: number, input: Node, r: Ref): void {
  if (!sameType(r.type, input.type)) {
    throw new GraphError(`gradient rule of ${describeNode(n)} returned ${formatType(r.type)} for input ${k}, which is ${formatType(input.type)}`);
  }
}
