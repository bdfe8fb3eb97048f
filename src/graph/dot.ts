// Graphviz DOT export: one box per node, trainable parameters highlighted, modules as clusters.

import type { Graph, Node } from './graph.js';
import { formatType } from './types.js';

export function toDot(graph: Graph, opts: { annotate?: (n: Node) => string | undefined } = {}): string {
  const lines = ['digraph promptgraph {', '  rankdir=TB;', '  node [shape=box, fontname="monospace", fontsize=10];'];
  for (const n of graph.nodes) {
    const name = n.op === 'param' || n.op === 'input' ? ` ${String(n.attrs.name)}` : '';
    const note = opts.annotate?.(n);
    const label = `%${n.id} ${n.op}${name}\\n${formatType(n.type)}${n.scope ? `\\n@${n.scope}` : ''}${note ? `\\n${note}` : ''}`;
    const style =
      n.op === 'param' ? (n.attrs.trainable ? ', style=filled, fillcolor="#ffd27f"' : ', style=filled, fillcolor="#dddddd"')
      : n.op === 'input' ? ', shape=ellipse' : '';
    lines.push(`  n${n.id} [label="${escape(label)}"${style}];`);
  }
  for (const n of graph.nodes) for (const i of n.inputs) lines.push(`  n${i} -> n${n.id};`);
  for (const [name, id] of graph.outputs) {
    lines.push(`  out_${sanitize(name)} [label="${escape(name)}", shape=doubleoctagon];`);
    lines.push(`  n${id} -> out_${sanitize(name)};`);
  }
  lines.push('}');
  return lines.join('\n');
}

function escape(s: string): string {
  return s.replace(/"/g, '\\"');
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, '_');
}
