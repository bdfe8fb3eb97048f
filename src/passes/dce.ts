// dce: removes every node that no output depends on (unused inputs and parameters included).

import type { Graph } from '../graph/index.js';
import type { Pass } from './pass.js';

export function liveNodes(graph: Graph): Set<number> {
  const live = new Set(graph.outputs.values());
  const nodes = graph.nodes;
  for (let k = nodes.length - 1; k >= 0; k--) if (live.has(nodes[k].id)) for (const i of nodes[k].inputs) live.add(i);
  return live;
}

export const dcePass: Pass = {
  name: 'dce',
  description: 'remove nodes no output depends on',
  requires: [],
  ensures: [],
  run(graph: Graph) {
    const live = liveNodes(graph);
    if (live.size === graph.size) return { graph, changed: false };
    const g = graph.clone();
    for (const n of [...g.nodes].reverse()) if (!live.has(n.id)) g.remove(n.id);
    return { graph: g, changed: true };
  },
};
