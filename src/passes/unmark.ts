// unmark: drops `mark` nodes (insertion points for methods), which compute nothing.

import type { Graph } from '../graph/index.js';
import type { Pass } from './pass.js';

export const unmarkPass: Pass = {
  name: 'unmark',
  description: 'remove insertion-point marks',
  requires: [],
  ensures: [],
  run(graph: Graph) {
    const marks = graph.nodes.filter((n) => n.op === 'mark');
    if (marks.length === 0) return { graph, changed: false };
    const g = graph.clone();
    for (const m of marks) {
      g.replaceAllUses(m.id, m.inputs[0]);
      g.remove(m.id);
    }
    return { graph: g, changed: true };
  },
};
