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
    const drops = graph.nodes.filter((n) => n.op === 'dropout');
    if (drops.length === 0) return { graph, changed: false };
    const g = graph.clone();
    for (const d of drops) {
      const x = d.inputs[0];
      for (const u of g.users(d.id)) u.inputs = u.inputs.map((i) => (i === d.id ? x : i));
      for (const [k, id] of [...g.outputs]) if (id === d.id) g.setOutput(k, x);
    }
    return { graph: g, changed: true };
  },
};
