// NER (CoNLL-2003 style, BIO / IOB2 tags) for P-tuning v2 sequence labelling. Types: PER people,
// LOC cities and countries, ORG venues, MISC cuisines and demonyms; professions are O. Sentences mix
// fact statements, multi-entity events, venue descriptions and a few entity-free sentences.

import { pickAttributes, restaurantAttributes, sampleKeys } from './e2e.js';
import { eventSentence, fillerSentence, placeSentence } from './events.js';
import { factBindings, worldFacts } from './facts.js';
import { realize } from './realize.js';
import { relationSpec } from './relations.js';
import { review } from './reviews.js';
import { Rng, deriveSeed } from './rng.js';
import { render, text, type Rendered } from './template.js';
import { SPLITS, type Split, type SplitSizes, type World } from './types.js';

export interface NerSentence {
  readonly tokens: readonly string[];
  readonly tags: readonly string[];
}

export interface NerOptions {
  readonly split: Split;
  readonly seed?: number;
  readonly sizes?: SplitSizes;
}

export const DEFAULT_NER_SIZES: SplitSizes = { train: 1000, dev: 200, test: 200 };

/** The label set in a fixed order (O first), for heads and loaders. */
export const NER_LABELS: readonly string[] = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-MISC', 'I-MISC'];

export function ner(world: World, opts: NerOptions): NerSentence[] {
  const sizes = opts.sizes ?? DEFAULT_NER_SIZES;
  const rng = new Rng(deriveSeed(opts.seed ?? world.seed, 'ner'));
  const facts = worldFacts(world);
  const need = SPLITS.reduce((a, s) => a + sizes[s], 0);
  // One pool of distinct sentences cut into splits, so no sentence is in two splits.
  const seen = new Set<string>();
  const pool: Rendered[] = [];
  for (let tries = 0; pool.length < need; tries++) {
    if (tries > 50 * need + 1000) throw new Error(`cannot draw ${need} distinct NER sentences`);
    const r = draw(world, rng, () => {
      const f = rng.pick(facts);
      return render(rng.pick(relationSpec(f.relation).corpus), factBindings(world, f));
    });
    const key = text(r);
    if (!seen.has(key)) {
      seen.add(key);
      pool.push(r);
    }
  }
  const start = SPLITS.slice(0, SPLITS.indexOf(opts.split)).reduce((a, s) => a + sizes[s], 0);
  return pool.slice(start, start + sizes[opts.split]).map((r) => ({ tokens: [...r.tokens], tags: [...r.tags] }));
}

function draw(world: World, rng: Rng, statement: () => Rendered): Rendered {
  const u = rng.float();
  if (u < 0.3) return statement();
  if (u < 0.7) return eventSentence(world, rng);
  if (u < 0.85) return realize(pickAttributes(restaurantAttributes(rng.pick(world.restaurants)), sampleKeys(rng, 1)), rng);
  if (u < 0.9) return review(world, rng.chance(0.5) ? 'positive' : 'negative', rng);
  if (u < 0.96) return placeSentence(world, rng);
  return fillerSentence(rng);
}
