// freeze: fixes which parameters train. Everything not declared trainable (by a method's marks
// or the `trainable` option) becomes frozen; frozen parameters are read-only on the device.

import { scopeMatches, type Graph } from '../graph/index.js';
import type { Pass } from './pass.js';

/** Parameter names or scope patterns (see graph/scope.ts) that stay trainable. */
export type TrainableSpec = readonly string[] | ((name: string) => boolean);

export function trainablePredicate(spec: TrainableSpec | undefined): ((name: string, marked: boolean) => boolean) {
  if (spec === undefined) return (_n, marked) => marked;
  if (typeof spec === 'function') return (n) => spec(n);
  return (n) => spec.some((p) => p === n || scopeMatches(n, p));
}

export function freezePass(spec?: TrainableSpec): Pass {
  const isTrainable = trainablePredicate(spec);
  return {
    name: 'freeze',
    description: 'mark every parameter not declared trainable as frozen',
    requires: [],
    ensures: ['frozen'],
    run(graph: Graph) {
      const g = graph.clone();
      let changed = false;
      for (const p of g.params()) {
        const want = isTrainable(String(p.attrs.name), p.attrs.trainable === true);
        if (want !== (p.attrs.trainable === true)) {
          p.attrs = { ...p.attrs, trainable: want };
          changed = true;
        }
      }
      return { graph: g, changed };
    },
  };
}

export function trainableParams(graph: Graph): string[] {
  return graph.params().filter((p) => p.attrs.trainable === true).map((p) => String(p.attrs.name));
}
