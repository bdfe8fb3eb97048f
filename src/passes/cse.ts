// cse: merges nodes that compute the same thing (same op, inputs, attributes and type).
// Sources are never merged except constants: two params are distinct even if they look alike.

import { formatType, type Graph, type Node } from '../graph/index.js';
import type { Pass } from './pass.js';

function key(n: Node): string | null {
  if (n.op === 'input' || n.op === 'param') return null;
  const attrs = Object.keys(n.attrs).sort().map((k) => `${k}=${JSON.stringify(n.attrs[k])}`).join(',');
  return `${n.op}(${n.inputs.join(',')}){${attrs}}:${formatType(n.type)}`;
}

export const csePass: Pass = {
  name: 'cse',
  description: 'merge duplicate computations',
  requires: [],
  ensures: [],
  run(graph: Graph) {
    const g = graph.clone();
    const seen = new Map<string, number>();
    let changed = false;
    for (const n of [...g.nodes]) {
      const k = key(n);
      if (k === null) continue;
      const prev = seen.get(k);
      if (prev === undefined) {
        seen.set(k, n.id);
        continue;
      }
      // Inputs were already canonicalized (graph order), so keys of later nodes see merged ids.
      g.replaceAllUses(n.id, prev);
      g.remove(n.id);
      changed = true;
    }
    return { graph: g, changed };
  },
};
