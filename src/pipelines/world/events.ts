// Non-fact text: events with several entities (filler for the corpus, material for NER), place
// descriptions (topic "place"), and entity-free everyday sentences. Events that imply where a venue
// is or what it serves use the true values, so they never contradict the world's facts.

import { valueOf } from './facts.js';
import { FOODS } from './lexicon.js';
import type { Rng } from './rng.js';
import { render, type Bindings, type Rendered, type SlotValue } from './template.js';
import type { World } from './types.js';

const EVENTS: readonly string[] = [
  '[P] met [P2] in [C] .',
  '[P] and [P2] had dinner at [R] .',
  '[P] visited [C] last year .',
  '[P] took a train from [C] to [C2] .',
  '[P] wrote a letter to [P2] from [C] .',
  '[P] ordered [RF] food at [R] .',
  '[P] traveled to [K] with [P2] .',
  '[P] went to [R] with [P2] and [P3] .',
  'the mayor of [C] thanked [P] .',
  '[P] says [R] is the best place in [RC] .',
  'a [K.dem] tourist visited [C] .',
  '[P] likes [F] food more than [F2] food .',
  '[P] flew from [K] to [K2] .',
  '[P] read about [R] in a [K.dem] newspaper .',
  'last week [P] cooked [F] food for [P2] .',
  'the people of [RC] love [R] .',
  '[P] and [P2] are old friends from school .',
  '[P] asked [P2] to meet at [R] .',
];

const PLACES: readonly string[] = [
  'the streets of [C] are [A] .',
  '[C] has a [B] [T] .',
  'many tourists visit the [T] in [C] .',
  'the [T] in [C] is very old .',
  'the weather in [C] is [W] today .',
  '[K] is a [G] country .',
  'in [K] , winters are [V] .',
  'the roads in [K] are [A] .',
];

const STREET = ['quiet', 'busy', 'narrow', 'wide', 'clean', 'old'];
const SIZE = ['big', 'small', 'famous', 'new', 'beautiful'];
const THING = ['market', 'harbour', 'park', 'bridge', 'station', 'museum', 'castle', 'square'];
const WEATHER = ['warm', 'cold', 'wet', 'dry', 'sunny', 'windy'];
const LAND = ['small', 'large', 'green', 'hilly', 'cold', 'warm', 'flat'];
const WINTER = ['long', 'short', 'mild', 'cold'];

const F_ADJ = ['small', 'big', 'old', 'young', 'quiet', 'happy', 'tired', 'brown', 'white', 'black'];
const F_NOUN = ['dog', 'cat', 'bird', 'child', 'man', 'woman', 'horse', 'boy', 'girl', 'fish'];
const F_VP = [
  'ran across the road', 'sat by the window', 'slept in the sun', 'waited at the station', 'walked to the market',
  'looked at the river', 'played in the garden', 'jumped over the fence', 'stayed at home', 'sang a song',
  'ate some bread', 'drank some water', 'found a key', 'lost a hat', 'watched the boats', 'climbed the hill',
];
const F_TIME = ['', 'in the morning', 'at night', 'after lunch', 'yesterday', 'every day', 'on sunday', 'before dinner'];

/** Random distinct people, cities, countries and foods, plus a venue with its own city and food. */
function bindings(world: World, rng: Rng): Bindings {
  const [p, p2, p3] = rng.sample(world.people, Math.min(3, world.people.length));
  const [c, c2] = rng.sample(world.cities, Math.min(2, world.cities.length));
  const [k, k2] = rng.sample(world.countries, Math.min(2, world.countries.length));
  const [f, f2] = rng.sample(FOODS, 2);
  const r = rng.pick(world.restaurants);
  const word = (text: string): SlotValue => ({ text, type: 'O' });
  const out: Record<string, SlotValue> = {
    R: valueOf(world, 'restaurant', r.name),
    RC: valueOf(world, 'city', r.city),
    RF: valueOf(world, 'food', r.food),
    F: valueOf(world, 'food', f),
    F2: valueOf(world, 'food', f2),
    A: word(rng.pick(STREET)), B: word(rng.pick(SIZE)), T: word(rng.pick(THING)),
    W: word(rng.pick(WEATHER)), G: word(rng.pick(LAND)), V: word(rng.pick(WINTER)),
  };
  // Small worlds may lack a second person/city/country; templates needing one are skipped then.
  if (p) out.P = valueOf(world, 'person', p.name);
  if (p2) out.P2 = valueOf(world, 'person', p2.name);
  if (p3) out.P3 = valueOf(world, 'person', p3.name);
  if (c) out.C = valueOf(world, 'city', c.name);
  if (c2) out.C2 = valueOf(world, 'city', c2.name);
  if (k) out.K = valueOf(world, 'country', k.name);
  if (k2) out.K2 = valueOf(world, 'country', k2.name);
  return out;
}

function renderSome(templates: readonly string[], world: World, rng: Rng): Rendered {
  const b = bindings(world, rng);
  const usable = templates.filter((t) => [...t.matchAll(/\[([A-Z][A-Z0-9]*)/g)].every((m) => b[m[1]] !== undefined));
  return render(rng.pick(usable), b);
}

export function eventSentence(world: World, rng: Rng): Rendered {
  return renderSome(EVENTS, world, rng);
}

export function placeSentence(world: World, rng: Rng): Rendered {
  return renderSome(PLACES, world, rng);
}

/** An everyday sentence with no entities. */
export function fillerSentence(rng: Rng): Rendered {
  const time = rng.pick(F_TIME);
  return render(`the ${rng.pick(F_ADJ)} ${rng.pick(F_NOUN)} ${rng.pick(F_VP)}${time ? ' ' + time : ''} .`, {});
}
