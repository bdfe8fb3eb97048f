// Surface realization of an E2E attribute set: 1-2 sentences mentioning every attribute, with
// varied lead structures, prepositional phrases and "it ..." predicates, so references differ.

import type { E2EAttributes, E2EKey } from './e2e.js';
import type { Rng } from './rng.js';
import { article, cat, render, words, type Rendered, type SlotValue, type Tag } from './template.js';

const WORD_SCALE = new Set(['cheap', 'moderate', 'high', 'low', 'average']);

/** Phrases that can follow a noun phrase ("... restaurant [in the city centre]"). */
function ppForms(key: E2EKey, v: string): readonly string[] {
  switch (key) {
    case 'food': return ['serving [V] food', 'offering [V] food', 'with [V] food'];
    case 'priceRange': return WORD_SCALE.has(v) ? ['with a [V] price range', 'in the [V] price range'] : ['with a price range of [V]', 'with prices of [V]'];
    case 'customer rating': return WORD_SCALE.has(v) ? ['with [V.a] customer rating', 'with [V.a] rating'] : ['with a customer rating of [V]', 'rated [V] by customers'];
    case 'area': return v === 'riverside' ? ['in the riverside area', 'by the riverside', 'on the riverside'] : ['in the city centre', 'in the centre of the city'];
    case 'near': return ['near [V]', 'close to [V]', 'not far from [V]'];
    default: return [];
  }
}

/** Relative clauses, placed after the phrases. */
function relForms(key: E2EKey, v: string): readonly string[] {
  if (key !== 'familyFriendly') return [];
  return v === 'yes'
    ? ['that is family-friendly', 'that welcomes children', 'which is kid friendly']
    : ['that is not family-friendly', 'that does not welcome children', 'which is not kid friendly'];
}

/** Verb phrases for a follow-up "it ..." sentence. */
function predForms(key: E2EKey, v: string): readonly string[] {
  switch (key) {
    case 'eatType': return ['is [V.a]'];
    case 'food': return ['serves [V] food', 'offers [V] food', 'has [V] food'];
    case 'priceRange': return WORD_SCALE.has(v)
      ? ['has a [V] price range', 'is in the [V] price range', `is ${priceAdjectives(v)[0]}`]
      : ['has a price range of [V]', 'charges [V]'];
    case 'customer rating': return WORD_SCALE.has(v) ? ['has [V.a] customer rating', 'is rated [V] by customers'] : ['has a customer rating of [V]', 'is rated [V] by customers'];
    case 'area': return v === 'riverside' ? ['is in the riverside area', 'is located by the riverside'] : ['is in the city centre', 'is located in the city centre'];
    case 'near': return ['is near [V]', 'is located near [V]', 'can be found close to [V]'];
    case 'familyFriendly': return v === 'yes' ? ['is family-friendly', 'is kid friendly', 'welcomes families'] : ['is not family-friendly', 'is not kid friendly', 'does not welcome families'];
    default: return [];
  }
}

function priceAdjectives(v: string): readonly string[] {
  return v === 'cheap' ? ['cheap'] : v === 'moderate' ? ['moderately priced'] : ['expensive', 'high-priced'];
}

function tagOf(key: E2EKey): Tag {
  return key === 'name' || key === 'near' ? 'ORG' : key === 'food' ? 'MISC' : 'O';
}

function phrase(template: string, key: E2EKey, v: string): Rendered {
  const value: SlotValue = { text: v, type: tagOf(key) };
  return render(template, { V: value });
}

export function realize(attrs: E2EAttributes, rng: Rng): Rendered {
  const left = new Set<E2EKey>((Object.keys(attrs) as E2EKey[]).filter((k) => k !== 'name'));
  const val = (k: E2EKey): string => attrs[k]!;
  const name = phrase('[V]', 'name', attrs.name);

  // Noun phrase "a [cheap] [italian] pub": takes eatType, and maybe price and food along.
  const nounPhrase = (): Rendered => {
    const parts: Rendered[] = [];
    if (left.has('priceRange') && WORD_SCALE.has(val('priceRange')) && rng.chance(0.5)) {
      parts.push(words(rng.pick(priceAdjectives(val('priceRange')))));
      left.delete('priceRange');
    }
    if (left.has('food') && rng.chance(0.6)) {
      parts.push(phrase('[V]', 'food', val('food')));
      left.delete('food');
    }
    parts.push(words(left.has('eatType') ? val('eatType') : rng.pick(['place', 'venue'])));
    left.delete('eatType');
    return cat(words(article(parts[0].tokens[0])), ...parts);
  };

  const leads: (() => Rendered)[] = [
    () => cat(name, words('is'), nounPhrase()),
    () => cat(words('there is'), nounPhrase(), words('called'), name),
  ];
  if (left.has('food')) {
    leads.push(() => {
      const food = phrase('[V]', 'food', val('food'));
      left.delete('food');
      return cat(name, words('serves'), food, words('food'));
    });
    leads.push(() => {
      const food = phrase('[V]', 'food', val('food'));
      left.delete('food');
      return cat(words('for'), food, words('food , try'), name, words(','), nounPhrase());
    });
  }
  const first: Rendered[] = [rng.pick(leads)()];

  const pps = rng.shuffle([...left].filter((k) => ppForms(k, val(k)).length > 0)).slice(0, rng.int(3));
  for (const k of pps) {
    first.push(phrase(rng.pick(ppForms(k, val(k))), k, val(k)));
    left.delete(k);
  }
  if (left.has('familyFriendly') && rng.chance(0.5)) {
    first.push(phrase(rng.pick(relForms('familyFriendly', val('familyFriendly'))), 'familyFriendly', val('familyFriendly')));
    left.delete('familyFriendly');
  }
  first.push(words('.'));

  // The rest as "it P1 , P2 and P3 ." (eatType first: "it is a pub and ...").
  const rest = rng.shuffle([...left]).sort((a, b) => Number(b === 'eatType') - Number(a === 'eatType'));
  if (rest.length === 0) return cat(...first);
  const preds = rest.map((k) => phrase(rng.pick(predForms(k, val(k))), k, val(k)));
  const joined: Rendered[] = [];
  preds.forEach((p, i) => {
    if (i > 0) joined.push(words(i === preds.length - 1 ? 'and' : ','));
    joined.push(p);
  });
  return cat(...first, words('it'), ...joined, words('.'));
}
