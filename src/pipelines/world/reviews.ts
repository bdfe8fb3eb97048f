// Customer reviews with a known polarity. The wording carries the sentiment (including negation
// and "but" contrasts, where the second clause decides); the venue named, when there is one, has
// a customer rating that agrees with it.

import { valueOf } from './facts.js';
import type { Rng } from './rng.js';
import { cat, entity, words, type Rendered } from './template.js';
import type { World } from './types.js';
import { ratingPolarity } from './world.js';

export type Polarity = 'positive' | 'negative';

interface Aspect { readonly noun: string; readonly good: readonly string[]; readonly bad: readonly string[] }

const ASPECTS: readonly Aspect[] = [
  { noun: 'the food', good: ['delicious', 'tasty', 'fresh', 'excellent', 'great'], bad: ['bland', 'cold', 'stale', 'awful', 'terrible'] },
  { noun: 'the soup', good: ['delicious', 'tasty', 'hot', 'lovely'], bad: ['bland', 'cold', 'salty', 'awful'] },
  { noun: 'the bread', good: ['fresh', 'warm', 'lovely'], bad: ['stale', 'hard', 'dry'] },
  { noun: 'the coffee', good: ['strong', 'excellent', 'lovely'], bad: ['weak', 'bitter', 'cold'] },
  { noun: 'the dessert', good: ['sweet', 'perfect', 'wonderful'], bad: ['dry', 'tasteless', 'disappointing'] },
  { noun: 'the service', good: ['quick', 'friendly', 'excellent'], bad: ['slow', 'rude', 'careless'] },
  { noun: 'the staff', good: ['friendly', 'kind', 'helpful'], bad: ['rude', 'unhelpful', 'careless'] },
  { noun: 'the room', good: ['clean', 'bright', 'pleasant'], bad: ['dirty', 'noisy', 'dark'] },
];

const VERDICTS: Readonly<Record<Polarity, readonly string[]>> = {
  positive: ['i loved it', 'i will come back again', 'i highly recommend it', 'we had a great time', 'it was a wonderful evening'],
  negative: ['i hated it', 'i will never come back', 'i do not recommend it', 'we had a bad time', 'it was a terrible evening'],
};

const flip = (p: Polarity): Polarity => (p === 'positive' ? 'negative' : 'positive');

/** One clause whose sentiment is `p`, about an aspect other than `avoid`. */
function clause(p: Polarity, rng: Rng, avoid?: Aspect): { readonly r: Rendered; readonly aspect?: Aspect } {
  const a = rng.pick(ASPECTS.filter((x) => x !== avoid));
  const verb = a.noun === 'the staff' ? 'were' : 'was';
  switch (rng.int(4)) {
    case 0: return { r: words(`${a.noun} ${verb} ${rng.pick(p === 'positive' ? a.good : a.bad)}`), aspect: a };
    case 1: return { r: words(`${a.noun} ${verb} very ${rng.pick(p === 'positive' ? a.good : a.bad)}`), aspect: a };
    case 2: return { r: words(`${a.noun} ${verb} not ${rng.pick(p === 'positive' ? a.bad : a.good)}`), aspect: a };
    default: return { r: words(rng.pick(VERDICTS[p])) };
  }
}

/** A body of one or two clauses; with two, "but" puts the deciding clause last. */
function body(p: Polarity, rng: Rng): Rendered {
  switch (rng.int(3)) {
    case 0: return clause(p, rng).r;
    case 1: {
      const a = clause(flip(p), rng);
      return cat(a.r, words('but'), clause(p, rng, a.aspect).r);
    }
    default: {
      const a = clause(p, rng);
      return cat(a.r, words('and'), clause(p, rng, a.aspect).r);
    }
  }
}

/** A review of polarity `p`; names a venue whose rating agrees when the world has one. */
export function review(world: World, p: Polarity, rng: Rng): Rendered {
  const venues = world.restaurants.filter((r) => ratingPolarity(r.customerRating) === p);
  if (venues.length === 0 || rng.chance(0.25)) return cat(body(p, rng), words('.'));
  const venue = entity(valueOf(world, 'restaurant', rng.pick(venues).name));
  const b = body(p, rng);
  switch (rng.int(4)) {
    case 0: return cat(words('i ate at'), venue, words('and'), b, words('.'));
    case 1: return cat(words('at'), venue, words(','), b, words('.'));
    case 2: return cat(words('we had dinner at'), venue, words('last night and'), b, words('.'));
    default: return cat(words('after a meal at'), venue, words(','), b, words('.'));
  }
}
