// Re-infers every node's type from its inputs, in graph order. Methods call it after an edit
// that changes a shape (e.g. a key prefix lengthens the key sequence), so the change flows
// through length-agnostic nodes downstream; a node that cannot follow throws a ShapeError
// naming it.

import { describeNode, type Graph } from '../graph/index.js';
import { checkArity, decodeAttrs, getOp } from './registry.js';

export function retype(graph: Graph): void {
  for (const n of graph.nodes) {
    if (n.op === 'input' || n.op === 'param') continue;
    const def = getOp(n.op);
    const inputs = n.inputs.map((i) => graph.node(i).type);
    try {
      checkArity(def, inputs.length);
      n.type = def.type(inputs, decodeAttrs(def, n.attrs, describeNode(n)), n.type);
    } catch (e) {
      if (e instanceof Error) e.message = `${describeNode(n)}: ${e.message}`;
      throw e;
    }
  }
}
