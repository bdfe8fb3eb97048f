// A readable, jaxpr-like text form: one line per node with its type, attributes and scope.
//
//   graph(%0:f32[2,3] x, %1:f32[3,4] w frozen) {
//     %2:f32[2,4] = matmul %0 %1 {transA=false transB=false}   @layer
//     return loss=%2
//   }

import type { Graph, Node } from './graph.js';
import { formatType, type AttrValue } from './types.js';

export interface PrintOptions {
  /** Extra text appended to a node's line (e.g. FLOPs, or a marker for inserted nodes). */
  annotate?: (n: Node) => string | undefined;
  /** Hide the attributes that are shown in the header for sources. */
  showScopes?: boolean;
}

export function printGraph(graph: Graph, opts: PrintOptions = {}): string {
  const showScopes = opts.showScopes ?? true;
  const sources = graph.nodes.filter((n) => n.op === 'input' || n.op === 'param');
  const header = sources.map(sourceLabel).join(', ');
  const lines = [`graph(${header}) {`];
  for (const n of graph.nodes) {
    if (n.op === 'input' || n.op === 'param') continue;
    let line = `  %${n.id}:${formatType(n.type)} = ${n.op}`;
    if (n.inputs.length) line += ' ' + n.inputs.map((i) => `%${i}`).join(' ');
    const attrs = Object.entries(n.attrs);
    if (attrs.length) line += ` {${attrs.map(([k, v]) => `${k}=${formatAttr(v)}`).join(' ')}}`;
    if (showScopes && n.scope) line += `  @${n.scope}`;
    const note = opts.annotate?.(n);
    if (note) line += `  # ${note}`;
    lines.push(line);
  }
  const outs = [...graph.outputs].map(([k, v]) => `${k}=%${v}`).join(' ');
  lines.push(`  return ${outs}`);
  lines.push('}');
  return lines.join('\n');
}

function sourceLabel(n: Node): string {
  const name = String(n.attrs.name ?? '?');
  const mark = n.op === 'param' ? (n.attrs.trainable ? ' trainable' : ' frozen') : '';
  return `%${n.id}:${formatType(n.type)} ${name}${mark}`;
}

export function formatAttr(v: AttrValue): string {
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x))).join(',')}]`;
  if (typeof v === 'string') return /^[\w.\-:]+$/.test(v) ? v : JSON.stringify(v);
  return String(v);
}
