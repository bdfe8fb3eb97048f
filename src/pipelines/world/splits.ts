// Cutting a (shuffled) list into train/dev/test by proportions, each non-empty split getting at
// least one item when there are enough, so small worlds still have every split.

import { SPLITS, type Split, type SplitSizes } from './types.js';

export function cutByProportion<T>(items: readonly T[], weights: SplitSizes): Record<Split, T[]> {
  const total = SPLITS.reduce((s, k) => s + weights[k], 0);
  if (!(total > 0)) throw new Error('split weights must sum to a positive number');
  const n = items.length;
  const counts = SPLITS.map((k) => Math.floor((n * weights[k]) / total));
  // Hand the rounding remainder to train first, then make sure no wanted split is empty.
  counts[0] += n - counts.reduce((a, b) => a + b, 0);
  for (let i = 1; i < SPLITS.length; i++) {
    if (counts[i] === 0 && weights[SPLITS[i]] > 0 && counts[0] > 1) {
      counts[i] = 1;
      counts[0]--;
    }
  }
  const out = {} as Record<Split, T[]>;
  let at = 0;
  SPLITS.forEach((k, i) => {
    out[k] = items.slice(at, at + counts[i]);
    at += counts[i];
  });
  return out;
}

/** Splits `total` into `parts` near-equal integers (for label-balanced splits). */
export function evenParts(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}
