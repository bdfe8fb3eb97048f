// Parameter initialization from each param node's `init` attribute, seeded per name so adding
// a parameter never changes the values of the others.
//
//   zeros | ones | normal:STD | uniform:A | rows:<param>:<i,j,...>
//
// `rows:` copies rows of another parameter (e.g. vocabulary embeddings of chosen token ids), so
// it needs that parameter's values.

import { formatShape, numel, type Graph, type Node } from '../graph/index.js';
import { hostTensor, mulberry32, normalSampler, roundToDType, type HostTensor, type ParamStore } from './host.js';

export const DEFAULT_INIT = 'normal:0.02';

/** FNV-1a of a string, mixed with a seed. */
export function nameSeed(name: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

export function initTensor(n: Node, seed: number, others: ReadonlyMap<string, HostTensor> = new Map()): HostTensor {
  const name = String(n.attrs.name);
  const spec = String(n.attrs.init ?? DEFAULT_INIT);
  const [kind, arg, rowList] = spec.split(':');
  const count = numel(n.type.shape);
  const rand = mulberry32(nameSeed(name, seed));
  let values: ArrayLike<number>;
  switch (kind) {
    case 'zeros': values = new Float64Array(count); break;
    case 'ones': values = new Float64Array(count).fill(1); break;
    case 'normal': {
      const std = Number(arg ?? 0.02);
      const normal = normalSampler(rand);
      values = Float64Array.from({ length: count }, () => normal() * std);
      break;
    }
    case 'uniform': {
      const a = Number(arg ?? 0.1);
      values = Float64Array.from({ length: count }, () => (rand() * 2 - 1) * a);
      break;
    }
    case 'rows': values = copyRows(name, n, arg, rowList ?? '', others); break;
    default:
      throw new Error(`param '${name}': unknown init '${spec}' (expected zeros, ones, normal:STD, uniform:A or rows:PARAM:I,J,...)`);
  }
  return roundToDType(hostTensor(n.type.shape, n.type.dtype, values));
}

function copyRows(name: string, n: Node, source: string | undefined, rowList: string, others: ReadonlyMap<string, HostTensor>): Float64Array {
  const from = source === undefined ? undefined : others.get(source);
  if (!from) throw new Error(`param '${name}': init copies rows of '${source}', which has no value yet (load the backbone first)`);
  const rows = rowList.split(',').filter((s) => s !== '').map(Number);
  const width = numel(from.shape.slice(1));
  if (rows.length * width !== numel(n.type.shape)) {
    throw new Error(`param '${name}' ${formatShape(n.type.shape)}: ${rows.length} rows of '${source}' ${formatShape(from.shape)} do not fill it`);
  }
  const out = new Float64Array(rows.length * width);
  rows.forEach((r, k) => {
    if (!(r >= 0 && r < from.shape[0])) throw new Error(`param '${name}': row ${r} is outside '${source}' (${from.shape[0]} rows)`);
    for (let j = 0; j < width; j++) out[k * width + j] = from.data[r * width + j];
  });
  return out;
}

/** Values for every parameter of `graph` that `existing` does not already hold. */
export function initParams(graph: Graph, seed = 0, existing: ParamStore = new Map()): ParamStore {
  const out: ParamStore = new Map(existing);
  for (const n of graph.params()) {
    const name = String(n.attrs.name);
    if (!out.has(name)) out.set(name, initTensor(n, seed, out));
  }
  return out;
}
