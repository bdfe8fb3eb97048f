// The world's facts as (subject, relation, object) triples, and the slot bindings that render them.

import { RELATIONS, relationSpec, type RelationId, type RelationSpec } from './relations.js';
import type { Bindings, SlotValue } from './template.js';
import { indexWorld } from './world.js';
import type { World } from './types.js';

export interface Fact {
  readonly subject: string;
  readonly relation: RelationId;
  /** Always a single word. */
  readonly object: string;
}

/** Every fact, grouped by relation in RELATIONS order. */
export function worldFacts(world: World): Fact[] {
  return RELATIONS.flatMap((spec) => subjectsOf(world, spec).map((subject) => ({ subject, relation: spec.id, object: objectOf(world, spec.id, subject) })));
}

function subjectsOf(world: World, spec: RelationSpec): string[] {
  const from = spec.subject === 'person' ? world.people : spec.subject === 'city' ? world.cities : world.restaurants;
  return from.map((e) => e.name);
}

function objectOf(world: World, rel: RelationId, subject: string): string {
  const idx = indexWorld(world);
  switch (rel) {
    case 'P19': return idx.person.get(subject)!.birthCity;
    case 'P27': return idx.person.get(subject)!.citizenship;
    case 'P106': return idx.person.get(subject)!.profession;
    case 'P551': return idx.person.get(subject)!.homeCity;
    case 'P17': return idx.city.get(subject)!.country;
    case 'P2012': return idx.restaurant.get(subject)!.food;
    case 'P131': return idx.restaurant.get(subject)!.city;
  }
}

/** [X] = subject, [Y] = object, with the related values the templates use. */
export function factBindings(world: World, fact: Fact): Bindings {
  const spec = relationSpec(fact.relation);
  const kind = { person: 'person', city: 'city', restaurant: 'restaurant' } as const;
  return { X: valueOf(world, kind[spec.subject], fact.subject), Y: valueOf(world, spec.object, fact.object) };
}

export type ValueKind = 'person' | 'city' | 'country' | 'restaurant' | 'profession' | 'food';

/** A world name as a slot value: its NER type and the related forms templates may ask for. */
export function valueOf(world: World, kind: ValueKind, name: string): SlotValue {
  const idx = indexWorld(world);
  switch (kind) {
    case 'person': return { text: name, type: 'PER' };
    case 'restaurant': return { text: name, type: 'ORG' };
    case 'profession': return { text: name, type: 'O' };
    case 'food': return { text: name, type: 'MISC' };
    case 'country': {
      const c = idx.country.get(name);
      if (!c) throw new Error(`unknown country ${name}`);
      return { text: name, type: 'LOC', related: { dem: { text: c.demonym, type: 'MISC' } } };
    }
    case 'city': {
      const c = idx.city.get(name);
      if (!c) throw new Error(`unknown city ${name}`);
      return { text: name, type: 'LOC', related: { country: valueOf(world, 'country', c.country) } };
    }
  }
}
