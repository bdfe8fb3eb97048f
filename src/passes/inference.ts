// inference: what differs between training and inference graphs. Dropout is the identity at
// inference (inverted dropout scales at training time), so every `dropout` node is bypassed;
// dce then removes the seed input nobody reads any more.

import type { Graph } from '../graph/index.js';
import type { Pass } from './pass.js';

export const inferencePass: Pass = {
  name: 'inference',
  description: 'bypass dropout (the identity at inference)',
  requires: [],
  ensures: [],
  run(graph: Graph) {
    if (!graph.nodes.some((n) => n.op === 'dropout')) return { graph, changed: false };
    const g = graph.clone();
    // In order, reading the clone: in dropout(dropout(x)) the outer one sees x once the inner is bypassed.
    for (const d of g.nodes.filter((n) => n.op === 'dropout')) g.replaceAllUses(d.id, d.inputs[0]);
    return { graph: g, changed: true };
  },
};
