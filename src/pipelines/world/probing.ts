// LAMA-style knowledge probing for P-tuning v1 with a frozen LM. Facts are split per relation
// (stratified) so train, dev and test ask about different facts; the queries use held-out
// phrasings that the pretraining corpus never contains.

import { factBindings, worldFacts, type Fact } from './facts.js';
import { RELATIONS, manualPrompt, relationSpec } from './relations.js';
import { Rng, deriveSeed } from './rng.js';
import { cutByProportion } from './splits.js';
import { parseTemplate, render, text } from './template.js';
import type { Split, SplitSizes, World } from './types.js';

export interface ProbeItem extends Fact {
  /** Held-out query templates; templates[0] is the manual prompt. */
  readonly templates: readonly string[];
  readonly manualPrompt: string;
  /** BERT inputs: each template with [X] filled and [Y] replaced by a literal "[MASK]". */
  readonly masked: readonly string[];
  /** GPT-2 inputs: each template's text before [Y]; the next word is the object. */
  readonly prompts: readonly string[];
}

export interface ProbingOptions {
  readonly split: Split;
  readonly seed?: number;
  /** Proportions of each relation's facts per split. */
  readonly proportions?: SplitSizes;
}

export const DEFAULT_PROBING_PROPORTIONS: SplitSizes = { train: 0.6, dev: 0.2, test: 0.2 };

export function probing(world: World, opts: ProbingOptions): ProbeItem[] {
  const rng = new Rng(deriveSeed(opts.seed ?? world.seed, 'probing'));
  const facts = worldFacts(world);
  return RELATIONS.flatMap((spec) => {
    const mine = rng.shuffle(facts.filter((f) => f.relation === spec.id));
    return cutByProportion(mine, opts.proportions ?? DEFAULT_PROBING_PROPORTIONS)[opts.split];
  }).map((fact) => probeItem(world, fact));
}

export function probeItem(world: World, fact: Fact): ProbeItem {
  const templates = relationSpec(fact.relation).queries;
  const b = factBindings(world, fact);
  return {
    ...fact,
    templates,
    manualPrompt: manualPrompt(fact.relation),
    masked: templates.map((t) => text(render(t, { ...b, Y: { text: '[MASK]', type: 'O' } }))),
    prompts: templates.map((t) => text(render(gptPrefix(t), b))),
  };
}

/** The part of a query template before its [Y] slot. */
export function gptPrefix(template: string): string {
  const words = template.split(' ');
  const at = parseTemplate(template).findIndex((p) => 'slot' in p && p.slot === 'Y');
  if (at <= 0) throw new Error(`query template needs text before [Y]: ${JSON.stringify(template)}`);
  return words.slice(0, at).join(' ');
}
