// Sentence classification for P-tuning v2: review sentiment (2 labels, from the wording, agreeing
// with the named venue's rating) or sentence topic (person / place / restaurant). Labels are
// balanced in every split and no sentence appears twice across splits.

import { pickAttributes, restaurantAttributes, sampleKeys } from './e2e.js';
import { placeSentence } from './events.js';
import { factBindings, worldFacts, type Fact } from './facts.js';
import { realize } from './realize.js';
import { relationSpec } from './relations.js';
import { review } from './reviews.js';
import { Rng, deriveSeed } from './rng.js';
import { evenParts } from './splits.js';
import { render, text, type Rendered } from './template.js';
import { SPLITS, type Split, type SplitSizes, type World } from './types.js';

export type ClassificationTask = 'sentiment' | 'topic';

export const LABEL_NAMES: Readonly<Record<ClassificationTask, readonly string[]>> = {
  sentiment: ['negative', 'positive'],
  topic: ['person', 'place', 'restaurant'],
};

export interface ClassificationExample {
  readonly idx: number;
  readonly sentence: string;
  /** Index into LABEL_NAMES[task]. */
  readonly label: number;
}

export interface ClassificationOptions {
  readonly split: Split;
  readonly task?: ClassificationTask;
  readonly seed?: number;
  readonly sizes?: SplitSizes;
}

export const DEFAULT_CLASSIFICATION_SIZES: SplitSizes = { train: 1000, dev: 200, test: 200 };

export function classification(world: World, opts: ClassificationOptions): ClassificationExample[] {
  const task = opts.task ?? 'sentiment';
  const sizes = opts.sizes ?? DEFAULT_CLASSIFICATION_SIZES;
  const rng = new Rng(deriveSeed(opts.seed ?? world.seed, `classification/${task}`));
  const labels = LABEL_NAMES[task].length;
  const facts = worldFacts(world);
  // All splits are drawn from one pool of unique sentences, so they cannot share a sentence.
  const perSplit = SPLITS.map((s) => evenParts(sizes[s], labels));
  const seen = new Set<string>();
  const pools = Array.from({ length: labels }, (_, label) => {
    const need = perSplit.reduce((a, p) => a + p[label], 0);
    const pool: string[] = [];
    for (let tries = 0; pool.length < need; tries++) {
      if (tries > 50 * need + 1000) throw new Error(`cannot draw ${need} distinct "${LABEL_NAMES[task][label]}" sentences`);
      const s = text(draw(task, label, world, facts, rng));
      if (!seen.has(s)) {
        seen.add(s);
        pool.push(s);
      }
    }
    return pool;
  });
  const splitIndex = SPLITS.indexOf(opts.split);
  const examples = pools.flatMap((pool, label) => {
    const start = perSplit.slice(0, splitIndex).reduce((a, p) => a + p[label], 0);
    return pool.slice(start, start + perSplit[splitIndex][label]).map((sentence) => ({ sentence, label }));
  });
  return rng.shuffle(examples).map((e, idx) => ({ idx, ...e }));
}

function draw(task: ClassificationTask, label: number, world: World, facts: readonly Fact[], rng: Rng): Rendered {
  if (task === 'sentiment') return review(world, label === 1 ? 'positive' : 'negative', rng);
  const statement = (f: Fact): Rendered => render(rng.pick(relationSpec(f.relation).corpus), factBindings(world, f));
  const of = (subjects: string) => facts.filter((f) => relationSpec(f.relation).subject === subjects);
  switch (LABEL_NAMES.topic[label]) {
    case 'person': return statement(rng.pick(of('person')));
    case 'place': return rng.chance(0.5) ? statement(rng.pick(of('city'))) : placeSentence(world, rng);
    default: return rng.chance(0.5)
      ? statement(rng.pick(of('restaurant')))
      : realize(pickAttributes(restaurantAttributes(rng.pick(world.restaurants)), sampleKeys(rng, 1)), rng);
  }
}
