// The pretraining corpus: every fact stated several times in varied corpus phrasings (never in a
// probing query phrasing), venue descriptions, reviews, events, place descriptions and filler.
// One sentence per string, tokens separated by single spaces.

import { pickAttributes, restaurantAttributes, sampleKeys } from './e2e.js';
import { eventSentence, fillerSentence, placeSentence } from './events.js';
import { factBindings, worldFacts, type Fact } from './facts.js';
import { realize } from './realize.js';
import { relationSpec } from './relations.js';
import { review } from './reviews.js';
import { Rng, deriveSeed } from './rng.js';
import { render, text, type Rendered } from './template.js';
import type { World } from './types.js';

/** Relative weights of the sentence kinds that fill the corpus after the guaranteed fact mentions. */
export interface CorpusMix {
  readonly facts: number;
  readonly descriptions: number;
  readonly reviews: number;
  readonly events: number;
  readonly places: number;
  readonly filler: number;
}

export interface CorpusOptions {
  readonly sentences: number;
  /** Defaults to the world's seed. */
  readonly seed: number;
  /** Each fact is stated at least this often, each time with a different corpus template. */
  readonly minFactMentions: number;
  readonly mix: CorpusMix;
}

export const DEFAULT_CORPUS_MIX: CorpusMix = { facts: 45, descriptions: 20, reviews: 10, events: 12, places: 5, filler: 8 };

export function pretrainCorpus(world: World, options: Partial<CorpusOptions> = {}): string[] {
  const sentences = options.sentences ?? 20000;
  const minMentions = options.minFactMentions ?? 3;
  const mix = options.mix ?? DEFAULT_CORPUS_MIX;
  const rng = new Rng(deriveSeed(options.seed ?? world.seed, 'corpus'));
  const facts = worldFacts(world);
  if (facts.length * minMentions > sentences) {
    throw new Error(`corpus of ${sentences} sentences cannot state ${facts.length} facts ${minMentions} times each`);
  }

  const out: Rendered[] = [];
  for (const fact of facts) {
    const templates = relationSpec(fact.relation).corpus;
    for (const t of rng.sample(templates, Math.min(minMentions, templates.length))) out.push(render(t, factBindings(world, fact)));
  }

  const kinds = Object.keys(mix) as (keyof CorpusMix)[];
  const total = kinds.reduce((s, k) => s + mix[k], 0);
  while (out.length < sentences) {
    let r = rng.float() * total;
    const kind = kinds.find((k) => (r -= mix[k]) < 0) ?? 'filler';
    out.push(sentenceOfKind(kind, world, facts, rng));
  }
  return rng.shuffle(out).map(text);
}

function sentenceOfKind(kind: keyof CorpusMix, world: World, facts: readonly Fact[], rng: Rng): Rendered {
  switch (kind) {
    case 'facts': {
      const fact = rng.pick(facts);
      return render(rng.pick(relationSpec(fact.relation).corpus), factBindings(world, fact));
    }
    case 'descriptions': {
      const attrs = restaurantAttributes(rng.pick(world.restaurants));
      return realize(pickAttributes(attrs, sampleKeys(rng, 1)), rng);
    }
    case 'reviews': return review(world, rng.chance(0.5) ? 'positive' : 'negative', rng);
    case 'events': return eventSentence(world, rng);
    case 'places': return placeSentence(world, rng);
    case 'filler': return fillerSentence(rng);
  }
}

/** Every sentence the corpus templates can state `fact` with (to count its mentions). */
export function factStatements(world: World, fact: Fact): string[] {
  return relationSpec(fact.relation).corpus.map((t) => text(render(t, factBindings(world, fact))));
}
