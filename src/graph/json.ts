// JSON save/load of graphs, validated with io-ts so a malformed file names the bad field.

import * as t from 'io-ts';
import { decodeOrThrow, DecodeError } from '../util/decode.js';
import { Graph } from './graph.js';
import { DTYPES, type Attrs, type DType } from './types.js';

export const GRAPH_FORMAT = 'promptgraph.graph/1';

const DTypeCodec = t.keyof(Object.fromEntries(DTYPES.map((d) => [d, null])) as Record<DType, null>, 'dtype (f32|i32|f16)');
const Dim = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 0, 'non-negative integer');
const AttrValueCodec = t.union([t.number, t.string, t.boolean, t.null, t.array(t.number), t.array(t.string)], 'attribute value');

const NodeCodec = t.type({
  id: t.refinement(t.number, Number.isInteger, 'integer id'),
  op: t.string,
  inputs: t.array(t.number),
  attrs: t.record(t.string, AttrValueCodec),
  type: t.type({ shape: t.array(Dim), dtype: DTypeCodec }),
  scope: t.string,
}, 'node');

export const GraphJsonCodec = t.type({
  format: t.literal(GRAPH_FORMAT),
  nodes: t.array(NodeCodec),
  outputs: t.record(t.string, t.number),
}, 'graph');

export type GraphJson = t.TypeOf<typeof GraphJsonCodec>;

export function graphToJson(graph: Graph): GraphJson {
  return {
    format: GRAPH_FORMAT,
    nodes: graph.nodes.map((n) => ({
      id: n.id,
      op: n.op,
      inputs: [...n.inputs],
      attrs: JSON.parse(JSON.stringify(n.attrs)) as GraphJson['nodes'][number]['attrs'],
      type: { shape: [...n.type.shape], dtype: n.type.dtype },
      scope: n.scope,
    })),
    outputs: Object.fromEntries(graph.outputs),
  };
}

/** Decodes and rebuilds a graph. Structure is checked here; types are checked by `validate`. */
export function graphFromJson(value: unknown, what = 'graph JSON'): Graph {
  const json = decodeOrThrow(GraphJsonCodec, value, what);
  const g = new Graph();
  json.nodes.forEach((n, i) => {
    try {
      g.add({ op: n.op, inputs: n.inputs, attrs: n.attrs as Attrs, type: n.type, scope: n.scope }, 'end', n.id);
    } catch (e) {
      throw new DecodeError(`${what}: at $.nodes[${i}]: ${(e as Error).message}`);
    }
  });
  for (const [name, id] of Object.entries(json.outputs)) {
    if (!g.has(id)) throw new DecodeError(`${what}: at $.outputs.${name}: no node %${id}`);
    g.setOutput(name, id);
  }
  return g;
}
