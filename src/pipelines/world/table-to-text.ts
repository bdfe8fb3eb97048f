// Table-to-text (E2E-style) records for prefix-tuning: MR string, attributes and 1-3 references.
// Splits are by venue: no venue name appears in two splits' MRs as `name`.

import { E2E_OPTIONAL_KEYS, mrString, pickAttributes, restaurantAttributes, sampleKeys, type E2EAttributes } from './e2e.js';
import { realize } from './realize.js';
import { Rng, deriveSeed } from './rng.js';
import { cutByProportion } from './splits.js';
import { text } from './template.js';
import type { Split, SplitSizes, World } from './types.js';

export interface TableRecord {
  readonly mr: string;
  readonly attributes: E2EAttributes;
  /** 1 to maxReferences distinct references. */
  readonly references: readonly string[];
}

export interface TableToTextOptions {
  readonly split: Split;
  readonly seed?: number;
  readonly sizes?: SplitSizes;
  readonly maxReferences?: number;
}

export const DEFAULT_TABLE_SIZES: SplitSizes = { train: 600, dev: 100, test: 100 };

export function tableToText(world: World, opts: TableToTextOptions): TableRecord[] {
  const sizes = opts.sizes ?? DEFAULT_TABLE_SIZES;
  const maxRefs = opts.maxReferences ?? 3;
  const rng = new Rng(deriveSeed(opts.seed ?? world.seed, `table-to-text/${opts.split}`));
  const venues = cutByProportion(new Rng(deriveSeed(opts.seed ?? world.seed, 'table-to-text/venues')).shuffle(world.restaurants), sizes)[opts.split];
  const want = sizes[opts.split];
  if (want === 0) return [];
  // Distinct MRs per venue: subsets of the 7 optional keys with at least 2 of them.
  const perVenue = 2 ** E2E_OPTIONAL_KEYS.length - 1 - E2E_OPTIONAL_KEYS.length;
  if (venues.length * perVenue < want) throw new Error(`${venues.length} venues cannot give ${want} distinct ${opts.split} records`);

  const seen = venues.map(() => new Set<string>());
  const out: TableRecord[] = [];
  for (let i = 0; out.length < want; i++) {
    const v = i % venues.length;
    if (seen[v].size === perVenue) continue;
    let attrs: E2EAttributes;
    do attrs = pickAttributes(restaurantAttributes(venues[v]), sampleKeys(rng, 2));
    while (seen[v].has(mrString(attrs)));
    seen[v].add(mrString(attrs));
    out.push({ mr: mrString(attrs), attributes: attrs, references: references(attrs, 1 + rng.int(maxRefs), rng) });
  }
  return out;
}

function references(attrs: E2EAttributes, n: number, rng: Rng): string[] {
  const refs = new Set<string>();
  for (let tries = 0; refs.size < n && tries < 20 * n; tries++) refs.add(text(realize(attrs, rng)));
  return [...refs];
}
