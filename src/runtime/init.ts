// Parameter initialization from each param node's `init` attribute, seeded per name so adding
// a parameter never changes the values of the others.

import { numel, type Graph, type Node } from '../graph/index.js';
import { hostTensor, mulberry32, normalSampler, roundToDType, type HostTensor } from '../ops/host.js';
import type { ParamStore } from './executor.js';

export const DEFAULT_INIT = 'normal:0.02';

/** FNV-1a of a string, mixed with a seed. */
export function nameSeed(name: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

export function initTensor(n: Node, seed: number): HostTensor {
  const spec = String(n.attrs.init ?? DEFAULT_INIT);
  const [kind, arg] = spec.split(':');
  const count = numel(n.type.shape);
  const rand = mulberry32(nameSeed(String(n.attrs.name), seed));
  let values: number[];
  switch (kind) {
    case 'zeros': values = new Array(count).fill(0); break;
    case 'ones': values = new Array(count).fill(1); break;
    case 'normal': {
      const std = Number(arg ?? 0.02);
      const normal = normalSampler(rand);
      values = Array.from({ length: count }, () => normal() * std);
      break;
    }
    case 'uniform': {
      const a = Number(arg ?? 0.1);
      values = Array.from({ length: count }, () => (rand() * 2 - 1) * a);
      break;
    }
    default:
      throw new Error(`param '${String(n.attrs.name)}': unknown init '${spec}' (expected zeros, ones, normal:STD or uniform:A)`);
  }
  return roundToDType(hostTensor(n.type.shape, n.type.dtype, values));
}

/** Values for every parameter of `graph` that `existing` does not already hold. */
export function initParams(graph: Graph, seed = 0, existing: ParamStore = new Map()): ParamStore {
  const out: ParamStore = new Map(existing);
  for (const n of graph.params()) {
    const name = String(n.attrs.name);
    if (!out.has(name)) out.set(name, initTensor(n, seed));
  }
  return out;
}
