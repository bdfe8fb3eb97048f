// fold: evaluates subgraphs that depend only on frozen values (frozen parameters, constants)
// once, at compile time, and replaces them with new frozen parameters. At export, freezing a
// trained reparameterization (prefix MLP, LSTM prompt encoder) and folding turns it into the
// prompt tensors it produces.

import { numel, type Graph, type Node } from '../graph/index.js';
import { evaluateReference } from '../ops/index.js';
import type { Pass, PassContext } from './pass.js';

export interface FoldOptions {
  /** Results larger than this many elements stay computed (folding would only add memory). */
  maxElements?: number;
  /** Name prefix of the parameters that hold folded values. */
  prefix?: string;
}

/** Ops worth folding only when something more than data movement happens below them. */
const LAYOUT_OPS = new Set(['reshape', 'permute', 'broadcast_to', 'slice', 'pad', 'concat', 'cast', 'mark']);

export function foldPass(opts: FoldOptions = {}): Pass {
  const maxElements = opts.maxElements ?? 1 << 20;
  const prefix = opts.prefix ?? 'folded';
  return {
    name: 'fold',
    description: 'evaluate frozen-only subgraphs at compile time',
    requires: ['frozen'],
    ensures: ['folded'],
    run(graph: Graph, ctx: PassContext) {
      // A frozen parameter that the step updates (optimizer state, `next:<name>`) is not constant.
      const updated = new Set([...graph.outputs.keys()].filter((k) => k.startsWith('next:')).map((k) => k.slice(5)));
      const constant = new Set<number>();
      for (const n of graph.nodes) {
        if (n.op === 'const' || (n.op === 'param' && n.attrs.trainable !== true && !updated.has(String(n.attrs.name)))) constant.add(n.id);
        else if (n.op !== 'input' && n.op !== 'param' && n.inputs.length > 0 && n.inputs.every((i) => constant.has(i))) constant.add(n.id);
      }
      // Fold the maximal constant nodes: those read by a non-constant node or an output.
      const roots = new Set<number>();
      for (const n of graph.nodes) if (!constant.has(n.id)) for (const i of n.inputs) if (constant.has(i)) roots.add(i);
      for (const id of graph.outputs.values()) if (constant.has(id)) roots.add(id);
      const worth = (n: Node): boolean => n.op !== 'param' && n.op !== 'const' && !LAYOUT_OPS.has(n.op) && numel(n.type.shape) <= maxElements;
      // A layout op at the boundary (e.g. the slices and reshapes that hand a prefix MLP's
      // output to each layer) is not worth folding itself: fold what computes below it.
      const picked = new Set<number>();
      const pick = (n: Node): void => {
        if (picked.has(n.id)) return;
        if (worth(n)) { picked.add(n.id); return; }
        if (LAYOUT_OPS.has(n.op)) for (const i of n.inputs) pick(graph.node(i));
      };
      for (const id of roots) pick(graph.node(id));
      const targets = graph.nodes.filter((n) => picked.has(n.id));
      if (targets.length === 0) return { graph, changed: false };

      const g = graph.clone();
      const values = evaluateReference(constantSubgraph(graph, constant), {}, ctx.params);
      for (const t of targets) {
        const name = `${prefix}.${t.scope ? `${t.scope}.` : ''}${t.op}${t.id}`;
        ctx.params.set(name, values.get(t.id)!);
        const p = g.add({ op: 'param', inputs: [], attrs: { name, trainable: false }, type: t.type, scope: t.scope }, { before: t.id });
        g.replaceAllUses(t.id, p.id);
      }
      ctx.notes.push(`fold: ${targets.length} frozen subgraph(s) evaluated at compile time`);
      // The folded nodes are now unused: drop them and whatever only they used.
      const live = new Set(g.outputs.values());
      for (const n of [...g.nodes].reverse()) if (live.has(n.id)) for (const i of n.inputs) live.add(i);
      for (const n of [...g.nodes].reverse()) if (!live.has(n.id) && constant.has(n.id) && n.op !== 'param') g.remove(n.id);
      return { graph: g, changed: true };
    },
  };
}

/** The constant nodes alone, as a graph the CPU executor can evaluate. */
function constantSubgraph(graph: Graph, constant: ReadonlySet<number>): Graph {
  const g = graph.clone();
  for (const n of [...g.nodes].reverse()) if (!constant.has(n.id)) {
    g.outputs.forEach((id, name) => { if (id === n.id) g.outputs.delete(name); });
    g.remove(n.id);
  }
  return g;
}
