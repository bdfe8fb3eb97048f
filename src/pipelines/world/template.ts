// Sentence templates with entity slots, rendered to space-separated tokens plus BIO tags, so the
// same instantiation feeds the corpus (text), NER (tags) and probing ([MASK] / GPT prompts).
//
// Syntax: tokens separated by single spaces; a slot is `[X]`, or `[X.mod]` where mod is `a`
// (the value with its indefinite article) or the name of a related value (`[Y.dem]`: the demonym
// of country Y, `[Y.country]`: the country of city Y).

import type { EntityType } from './types.js';

export type Tag = EntityType | 'O';

export interface SlotValue {
  readonly text: string;
  /** Entity type for NER, or 'O' for values that are not entities (professions). */
  readonly type: Tag;
  readonly related?: Readonly<Record<string, SlotValue>>;
}

export type Bindings = Readonly<Record<string, SlotValue>>;

export interface Rendered {
  readonly tokens: readonly string[];
  /** BIO tags, one per token. */
  readonly tags: readonly string[];
}

type Piece = { readonly word: string } | { readonly slot: string; readonly mod: string | null };

const SLOT = /^\[([A-Z][A-Z0-9]*)(?:\.([a-z]+))?\]$/;
const parsed = new Map<string, readonly Piece[]>();

export function parseTemplate(template: string): readonly Piece[] {
  let pieces = parsed.get(template);
  if (!pieces) {
    pieces = template.split(' ').map((w): Piece => {
      if (w === '') throw new Error(`template has an empty token: ${JSON.stringify(template)}`);
      const m = SLOT.exec(w);
      return m ? { slot: m[1], mod: m[2] ?? null } : { word: w };
    });
    parsed.set(template, pieces);
  }
  return pieces;
}

/** Names of the slots a template uses (without modifiers), in order of first use. */
export function templateSlots(template: string): string[] {
  const out: string[] = [];
  for (const p of parseTemplate(template)) if ('slot' in p && !out.includes(p.slot)) out.push(p.slot);
  return out;
}

export function render(template: string, bindings: Bindings): Rendered {
  return cat(...parseTemplate(template).map((p) => ('word' in p ? words(p.word) : slotValue(p.slot, p.mod, bindings, template))));
}

/** Plain words, all tagged O. */
export function words(text: string): Rendered {
  const tokens = text.split(' ');
  return { tokens, tags: tokens.map(() => 'O') };
}

/** A value as an entity span (or O tokens for type 'O'). */
export function entity(v: SlotValue): Rendered {
  const tokens = v.text.split(' ');
  return { tokens, tags: tokens.map((_, i) => (v.type === 'O' ? 'O' : `${i === 0 ? 'B' : 'I'}-${v.type}`)) };
}

export function cat(...parts: readonly Rendered[]): Rendered {
  return { tokens: parts.flatMap((p) => p.tokens), tags: parts.flatMap((p) => p.tags) };
}

export function text(r: Rendered): string {
  return r.tokens.join(' ');
}

/** "a" or "an" for the word that follows. */
export function article(next: string): string {
  return /^[aeiou]/.test(next) ? 'an' : 'a';
}

function slotValue(slot: string, mod: string | null, bindings: Bindings, template: string): Rendered {
  const v = bindings[slot];
  if (!v) throw new Error(`template ${JSON.stringify(template)}: slot [${slot}] is not bound`);
  if (mod === null) return entity(v);
  if (mod === 'a') return cat(words(article(v.text)), entity(v));
  const rel = v.related?.[mod];
  if (!rel) throw new Error(`template ${JSON.stringify(template)}: [${slot}] has no related value "${mod}"`);
  return entity(rel);
}
