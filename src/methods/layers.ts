// Which layers a method targets: all, a list, or the top k.

import * as t from 'io-ts';
import { MethodError } from './method.js';

export const LayersCodec = t.union([t.literal('all'), t.array(t.Int), t.type({ top: t.Int })], "layers ('all', [i, ...] or {top: k})");
export type Layers = t.TypeOf<typeof LayersCodec>;

export function selectLayers(spec: Layers | undefined, count: number, method: string): number[] {
  if (spec === undefined || spec === 'all') return [...Array(count).keys()];
  if (Array.isArray(spec)) {
    const bad = spec.filter((l) => l < 0 || l >= count);
    if (bad.length) throw new MethodError(`${method}: layers ${bad.join(', ')} do not exist (the backbone has ${count}: 0..${count - 1})`);
    return [...new Set(spec)].sort((a, b) => a - b);
  }
  const top = (spec as { top: number }).top;
  if (top < 1 || top > count) throw new MethodError(`${method}: top ${top} layers asked, the backbone has ${count}`);
  return [...Array(top).keys()].map((k) => count - top + k);
}
