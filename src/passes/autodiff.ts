// Reverse-mode autodiff over the IR: appends the backward graph of `y` (seeded with cotangent
// `dy`) toward the nodes in `wrt`, using each op's registry gradient rule.
//
// Only nodes on a path from some `wrt` node to `y` are differentiated: gradients flow through
// frozen layers that lie above a trainable node, and nothing is computed for frozen weights.

import { describeNode, formatType, GraphError, sameType, type Graph, type Node } from '../graph/index.js';
import { decodeAttrs, getOp, GraphBuilder, type Ref, refOf } from '../ops/index.js';
import { CompileError, type Pass } from './pass.js';

/** Scope prefix of every backward node, so inspect can split forward and backward costs. */
export const GRAD_SCOPE = 'grad';

/** Ops through which no gradient flows, so autodiff does not look past them. */
export const NON_DIFFERENTIABLE = new Set(['stop_gradient']);

/** Ids of nodes that depend differentiably on any of `from` (including them). */
export function dependents(graph: Graph, from: Iterable<number>): Set<number> {
  const reach = new Set(from);
  for (const n of graph.nodes) if (!NON_DIFFERENTIABLE.has(n.op) && n.inputs.some((i) => reach.has(i))) reach.add(n.id);
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
  /** Every cotangent built, by forward node id. */
  readonly cotangents: ReadonlyMap<number, Ref>;
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
    const needs = n.inputs.map((i) => active.has(i));
    const results = b.inScope(gradScope(n), () => def.grad!(b, { inputs, output: refOf(n), attrs, needs }, g));
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
  return { grads, cotangents: ct, active };
}

function gradScope(n: Node): string {
  return n.scope ? `${GRAD_SCOPE}.${n.scope}` : GRAD_SCOPE;
}

function checkCotangent(n: Node, k: number, input: Node, r: Ref): void {
  if (!sameType(r.type, input.type)) {
    throw new GraphError(`gradient rule of ${describeNode(n)} returned ${formatType(r.type)} for input ${k}, which is ${formatType(input.type)}`);
  }
}

// ---- the pass ---------------------------------------------------------------------------------

export interface AutodiffOptions {
  /** Multiplies the loss seed (and divides the gradients back) for reduced-precision training. */
  lossScale?: number;
}

/** Output name of a parameter's gradient. */
export const gradOutput = (param: string): string => `grad:${param}`;

export function autodiffPass(opts: AutodiffOptions = {}): Pass {
  return {
    name: 'autodiff',
    description: 'append the backward graph of `loss` toward trainable parameters only',
    requires: ['frozen'],
    ensures: ['scalar-loss', 'gradients'],
    run(graph: Graph) {
      const g = graph.clone();
      const lossId = g.outputs.get('loss');
      if (lossId === undefined) throw new CompileError(`the graph has no 'loss' output to differentiate (outputs: ${[...g.outputs.keys()].join(', ') || 'none'})`);
      const loss = g.node(lossId);
      if (loss.type.shape.length !== 0 || loss.type.dtype !== 'f32') {
        throw new CompileError(`loss ${describeNode(loss)} is ${formatType(loss.type)}; expected a scalar f32[] (reduce it, e.g. with mean)`);
      }
      const trainable = g.params().filter((p) => p.attrs.trainable === true);
      if (trainable.length === 0) throw new CompileError('no parameter is trainable: nothing to differentiate');
      const reach = dependencies(g, lossId);
      const down = dependents(g, trainable.map((p) => p.id));
      for (const p of trainable) {
        if (!reach.has(p.id) || !down.has(lossId) || !dependents(g, [p.id]).has(lossId)) {
          throw new CompileError(`trainable parameter '${String(p.attrs.name)}' (${describeNode(p)}) does not reach the loss: freeze it or connect it`);
        }
      }
      const b = new GraphBuilder(g);
      const scale = opts.lossScale ?? 1;
      const seed = b.inScope(GRAD_SCOPE, () => b.constant(scale));
      const { grads } = appendBackward(b, refOf(loss), seed, trainable.map((p) => p.id));
      for (const p of trainable) {
        let gr = grads.get(p.id)!;
        if (scale !== 1) gr = b.inScope(GRAD_SCOPE, () => b.scale(gr, 1 / scale));
        g.setOutput(gradOutput(String(p.attrs.name)), gr.id);
      }
      return { graph: g, changed: true };
    },
  };
}
