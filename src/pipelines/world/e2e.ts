// E2E meaning representations: the attribute set of a venue and its MR string, in the E2E
// dataset's key names and order ("name[x], eatType[y], ...").

import type { Restaurant } from './types.js';

export type E2EKey = 'name' | 'eatType' | 'food' | 'priceRange' | 'customer rating' | 'area' | 'familyFriendly' | 'near';
/** E2E's canonical attribute order. */
export const E2E_KEYS: readonly E2EKey[] = ['name', 'eatType', 'food', 'priceRange', 'customer rating', 'area', 'familyFriendly', 'near'];

export type E2EAttributes = Readonly<Partial<Record<E2EKey, string>>> & { readonly name: string };

export function restaurantAttributes(r: Restaurant): Required<E2EAttributes> {
  return {
    name: r.name,
    eatType: r.eatType,
    food: r.food,
    priceRange: r.priceRange,
    'customer rating': r.customerRating,
    area: r.area,
    familyFriendly: r.familyFriendly ? 'yes' : 'no',
    near: r.near,
  };
}

/** Keeps `keys` (name always) of a full attribute set. */
export function pickAttributes(all: Required<E2EAttributes>, keys: readonly E2EKey[]): E2EAttributes {
  const out: Partial<Record<E2EKey, string>> = {};
  for (const k of E2E_KEYS) if (k === 'name' || keys.includes(k)) out[k] = all[k];
  return out as E2EAttributes;
}

export function mrString(attrs: E2EAttributes): string {
  return E2E_KEYS.filter((k) => attrs[k] !== undefined).map((k) => `${k}[${attrs[k]}]`).join(', ');
}

/** Inverse of mrString (for round-trip checks and loaders of the written CSV). */
export function parseMr(mr: string): E2EAttributes {
  const out: Partial<Record<E2EKey, string>> = {};
  for (const m of mr.matchAll(/([A-Za-z ]+)\[([^\]]*)\]/g)) {
    const key = m[1].trim() as E2EKey;
    if (!E2E_KEYS.includes(key)) throw new Error(`unknown E2E attribute "${key}" in ${JSON.stringify(mr)}`);
    out[key] = m[2];
  }
  if (out.name === undefined) throw new Error(`MR without a name: ${JSON.stringify(mr)}`);
  return out as E2EAttributes;
}

/** The optional keys (all but name). */
export const E2E_OPTIONAL_KEYS: readonly E2EKey[] = E2E_KEYS.filter((k) => k !== 'name');

/** A random subset of the optional keys with at least `min` of them (E2E MRs have 3-8 attributes). */
export function sampleKeys(rng: { int(n: number): number; sample<T>(xs: readonly T[], k: number): T[] }, min = 2): E2EKey[] {
  const k = min + rng.int(E2E_OPTIONAL_KEYS.length - min + 1);
  return rng.sample(E2E_OPTIONAL_KEYS, k);
}
