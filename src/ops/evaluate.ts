// Evaluates a graph with every op's CPU reference: the oracle for tests and the evaluator the
// compiler uses for constant folding. Not a performance path.

import { formatType, sameShape, sameType, SOURCE_OPS, type Graph, type Node } from '../graph/index.js';
import { decodeAttrs, getOp } from './registry.js';
import { asF16, roundToDType, type Feeds, type HostTensor, type ParamStore } from './host.js';

export class FeedError extends Error {
  override name = 'FeedError';
}

/** The host value for a source node (input or param), checked against the node's type. */
export function sourceValue(n: Node, feeds: Feeds, params: ParamStore): HostTensor {
  const name = String(n.attrs.name);
  const kind = n.op === 'input' ? 'input' : 'parameter';
  const v = n.op === 'input' ? feeds[name] : params.get(name);
  if (!v) {
    const known = n.op === 'input' ? Object.keys(feeds) : [...params.keys()];
    throw new FeedError(`no value for ${kind} '${name}' (${formatType(n.type)}); given: ${known.slice(0, 20).join(', ') || 'none'}`);
  }
  return n.op === 'param' ? storedParam(n, v) : checkedSource(n, v, kind);
}

/**
 * The value a parameter node holds, given its host value: an f32 value of a parameter stored as
 * f16 (half-storage) is rounded to f16 (see asF16), anything else must match the node's type.
 */
export function storedParam(n: Node, v: HostTensor): HostTensor {
  const name = String(n.attrs.name);
  if (n.type.dtype === 'f16' && v.dtype === 'f32' && sameShape(v.shape, n.type.shape)) return asF16(v, `parameter '${name}'`);
  return checkedSource(n, v, 'parameter');
}

function checkedSource(n: Node, v: HostTensor, kind: string): HostTensor {
  if (!sameType(v, n.type)) throw new FeedError(`${kind} '${String(n.attrs.name)}' expects ${formatType(n.type)}, got ${formatType(v)}`);
  return v;
}

/**
 * Every node's value, by id. `f32` rounds each result to its dtype as the device stores it;
 * `f64` keeps full precision (for gradient checks).
 */
export function evaluateReference(graph: Graph, feeds: Feeds, params: ParamStore, precision: 'f32' | 'f64' = 'f32'): Map<number, HostTensor> {
  const values = new Map<number, HostTensor>();
  for (const n of graph.nodes) {
    if (SOURCE_OPS.has(n.op)) {
      values.set(n.id, sourceValue(n, feeds, params));
      continue;
    }
    const def = getOp(n.op);
    if (!def.reference) throw new Error(`op '${n.op}' has no CPU reference`);
    const attrs = decodeAttrs(def, n.attrs, `${n.op} node %${n.id}`);
    const out = def.reference(n.inputs.map((i) => values.get(i)!), attrs, n.type);
    values.set(n.id, precision === 'f32' ? roundToDType(out) : out);
  }
  return values;
}
