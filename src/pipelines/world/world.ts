// generateWorld: a small, seeded set of countries, cities, people and restaurants whose facts the
// pretraining corpus states and the task sets ask about.

import { CITY_NAMES, COUNTRIES, FIRST_NAMES, FOODS, LAST_NAMES, PROFESSIONS, VENUE_ADJECTIVES, VENUE_NOUNS } from './lexicon.js';
import { Rng, deriveSeed } from './rng.js';
import type {
  Area, City, Country, CustomerRating, EatType, Person, PriceRange, Restaurant, World, WorldOptions,
} from './types.js';

/** Defaults give ~310 probing facts (50 people x 4 + 16 cities + 48 restaurants x 2). */
export const DEFAULT_WORLD_OPTIONS: WorldOptions = { countries: 6, cities: 16, people: 50, restaurants: 48 };

const EAT_TYPES: readonly EatType[] = ['restaurant', 'restaurant', 'pub', 'coffee shop'];
const PRICES: readonly PriceRange[] = ['cheap', 'moderate', 'high', 'less than 20', '20-25', 'more than 30'];
const AREAS: readonly Area[] = ['riverside', 'city centre'];
/** Cycled so every world has good and bad venues in equal numbers (sentiment needs both). */
const RATINGS: readonly CustomerRating[] = ['high', 'low', '5 out of 5', '1 out of 5', 'high', 'low', 'average', '3 out of 5'];

export function generateWorld(seed: number, options: Partial<WorldOptions> = {}): World {
  const opts = { ...DEFAULT_WORLD_OPTIONS, ...options };
  check('countries', opts.countries, 1, COUNTRIES.length);
  check('cities', opts.cities, opts.countries, CITY_NAMES.length);
  check('people', opts.people, 1, FIRST_NAMES.length * LAST_NAMES.length);
  check('restaurants', opts.restaurants, 2, VENUE_ADJECTIVES.length * VENUE_NOUNS.length);
  const rng = new Rng(deriveSeed(seed, 'world'));

  const countries: Country[] = rng.sample(COUNTRIES, opts.countries).map((c) => ({ ...c }));
  // Every country gets at least one city, so every country can be a probing object.
  const cityNames = rng.sample(CITY_NAMES, opts.cities);
  const cities: City[] = cityNames.map((name, i) => ({
    name,
    country: i < countries.length ? countries[i].name : rng.pick(countries).name,
  }));
  const countryOf = new Map(cities.map((c) => [c.name, c.country]));

  const fullNames = FIRST_NAMES.flatMap((f) => LAST_NAMES.map((l) => `${f} ${l}`));
  const people: Person[] = rng.sample(fullNames, opts.people).map((name) => {
    const birthCity = rng.pick(cities).name;
    return {
      name,
      birthCity,
      // Mostly correlated, like real data, but not derivable: the LM has to memorize each fact.
      homeCity: rng.chance(0.4) ? birthCity : rng.pick(cities).name,
      citizenship: rng.chance(0.75) ? countryOf.get(birthCity)! : rng.pick(countries).name,
      profession: rng.pick(PROFESSIONS),
    };
  });

  const venueNames = VENUE_ADJECTIVES.flatMap((a) => VENUE_NOUNS.map((n) => `the ${a} ${n}`));
  const names = rng.sample(venueNames, opts.restaurants);
  const ratings = rng.shuffle(Array.from({ length: names.length }, (_, i) => RATINGS[i % RATINGS.length]));
  const restaurants: Restaurant[] = names.map((name, i) => ({
    name,
    eatType: rng.pick(EAT_TYPES),
    food: rng.pick(FOODS),
    priceRange: rng.pick(PRICES),
    customerRating: ratings[i],
    area: rng.pick(AREAS),
    familyFriendly: rng.chance(0.5),
    near: names[(i + 1 + rng.int(names.length - 1)) % names.length],
    city: rng.pick(cities).name,
  }));

  return { seed, countries, cities, people, restaurants };
}

/** Sentiment a customer rating implies: reviews of a venue agree with its rating. */
export function ratingPolarity(r: CustomerRating): 'positive' | 'negative' | 'neutral' {
  if (r === 'high' || r === '5 out of 5') return 'positive';
  if (r === 'low' || r === '1 out of 5') return 'negative';
  return 'neutral';
}

export interface WorldIndex {
  readonly country: ReadonlyMap<string, Country>;
  readonly city: ReadonlyMap<string, City>;
  readonly person: ReadonlyMap<string, Person>;
  readonly restaurant: ReadonlyMap<string, Restaurant>;
}

const indexes = new WeakMap<World, WorldIndex>();

/** Lookups by name (cached per world object). */
export function indexWorld(world: World): WorldIndex {
  let idx = indexes.get(world);
  if (!idx) {
    idx = {
      country: new Map(world.countries.map((c) => [c.name, c])),
      city: new Map(world.cities.map((c) => [c.name, c])),
      person: new Map(world.people.map((p) => [p.name, p])),
      restaurant: new Map(world.restaurants.map((r) => [r.name, r])),
    };
    indexes.set(world, idx);
  }
  return idx;
}

function check(what: string, n: number, min: number, max: number): void {
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`world option ${what} must be an integer in [${min}, ${max}], got ${n}`);
}
