// split-concat: a concat kernel binds each input plus its output, so a concat of more inputs
// than the device's storage-buffer limit allows (e.g. a verbalizer's many label runs) becomes
// nested concats along the same axis, each within the limit. Exact: it only regroups the copy.

import type { Graph } from '../graph/index.js';
import { GraphBuilder, type Ref } from '../ops/index.js';
import type { Pass } from './pass.js';
import { nest } from './pads-to-concat.js';

export const splitConcatPass: Pass = {
  name: 'split-concat',
  description: 'split concats wider than the storage-buffer limit into nested concats',
  requires: [],
  ensures: [],
  run(graph: Graph, ctx) {
    const maxInputs = ctx.target.maxStorageBuffers - 1;
    const wide = graph.nodes.filter((n) => n.op === 'concat' && n.inputs.length > maxInputs);
    if (wide.length === 0 || maxInputs < 2) return { graph, changed: false };
    const g = graph.clone();
    const b = new GraphBuilder(g);
    for (const { id } of wide) {
      const n = g.node(id);
      const axis = Number(n.attrs.axis);
      const joined = b.inScope(n.scope, () => b.at({ before: n.id }, () => nest<Ref>(n.inputs.map((i) => b.ref(i)), maxInputs, (xs) => b.concat(xs, axis))));
      g.replaceAllUses(n.id, joined.id);
      g.remove(n.id);
    }
    ctx.notes.push(`split-concat: ${wide.length} concat(s) wider than ${maxInputs} inputs nested`);
    return { graph: g, changed: true };
  },
};
