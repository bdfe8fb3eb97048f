// Shapes of the synthetic world and of the datasets drawn from it.

export type Split = 'train' | 'dev' | 'test';
export const SPLITS: readonly Split[] = ['train', 'dev', 'test'];
export type SplitSizes = Readonly<Record<Split, number>>;

/** NER entity types (CoNLL-2003 set): PER people, LOC cities and countries, ORG restaurants and
 *  pubs, MISC cuisines and demonyms (CoNLL tags nationality adjectives MISC). */
export type EntityType = 'PER' | 'LOC' | 'ORG' | 'MISC';
export const ENTITY_TYPES: readonly EntityType[] = ['PER', 'LOC', 'ORG', 'MISC'];

export interface Country {
  readonly name: string;
  /** Adjective for its people ("vespian"); one word. */
  readonly demonym: string;
}

export interface City {
  readonly name: string;
  readonly country: string;
}

export interface Person {
  /** "first last", unique in the world. */
  readonly name: string;
  readonly birthCity: string;
  readonly homeCity: string;
  /** Country of citizenship (usually, not always, the birth city's country). */
  readonly citizenship: string;
  readonly profession: string;
}

export type EatType = 'restaurant' | 'pub' | 'coffee shop';
export type PriceRange = 'cheap' | 'moderate' | 'high' | 'less than 20' | '20-25' | 'more than 30';
export type CustomerRating = 'low' | 'average' | 'high' | '1 out of 5' | '3 out of 5' | '5 out of 5';
export type Area = 'riverside' | 'city centre';

/** A venue with the E2E attributes, plus the city it is in (used by probing, not by E2E MRs). */
export interface Restaurant {
  readonly name: string;
  readonly eatType: EatType;
  readonly food: string;
  readonly priceRange: PriceRange;
  readonly customerRating: CustomerRating;
  readonly area: Area;
  readonly familyFriendly: boolean;
  /** Name of another restaurant in the world. */
  readonly near: string;
  readonly city: string;
}

export interface World {
  readonly seed: number;
  readonly countries: readonly Country[];
  readonly cities: readonly City[];
  readonly people: readonly Person[];
  readonly restaurants: readonly Restaurant[];
}

export interface WorldOptions {
  readonly countries: number;
  readonly cities: number;
  readonly people: number;
  readonly restaurants: number;
}
