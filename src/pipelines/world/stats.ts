// Dataset statistics for tests and docs: vocabulary, sentence lengths, label and tag balance.

import type { ClassificationTask } from './classification.js';
import type { WorldDatasets } from './datasets.js';
import { worldFacts } from './facts.js';
import { SPLITS, type Split } from './types.js';

export interface TextStats {
  readonly sentences: number;
  readonly tokens: number;
  readonly vocabSize: number;
  readonly meanLength: number;
  readonly minLength: number;
  readonly maxLength: number;
  /** Sentence counts by length bucket of 8 tokens ("1-8", "9-16", ...). */
  readonly lengthHistogram: Readonly<Record<string, number>>;
}

/** Words of a line: whitespace-separated; MR brackets and commas also separate. */
export function words(line: string): string[] {
  return line.split(/[\s[\],]+/).filter((w) => w !== '');
}

export function textStats(lines: readonly (string | readonly string[])[]): TextStats {
  const vocab = new Set<string>();
  const hist: Record<string, number> = {};
  let tokens = 0, min = Infinity, max = 0;
  for (const line of lines) {
    const ws = typeof line === 'string' ? words(line) : line;
    for (const w of ws) vocab.add(w);
    tokens += ws.length;
    min = Math.min(min, ws.length);
    max = Math.max(max, ws.length);
    const lo = Math.floor(Math.max(0, ws.length - 1) / 8) * 8 + 1;
    const bucket = `${lo}-${lo + 7}`;
    hist[bucket] = (hist[bucket] ?? 0) + 1;
  }
  const n = lines.length;
  return { sentences: n, tokens, vocabSize: vocab.size, meanLength: n ? tokens / n : 0, minLength: n ? min : 0, maxLength: max, lengthHistogram: hist };
}

export interface LabelBalance {
  readonly counts: Readonly<Record<string, number>>;
  /** Largest |count / mean count - 1| over labels (0 = perfectly balanced). */
  readonly maxDeviation: number;
}

export function labelBalance(labels: readonly (string | number)[]): LabelBalance {
  const counts: Record<string, number> = {};
  for (const l of labels) counts[String(l)] = (counts[String(l)] ?? 0) + 1;
  const values = Object.values(counts);
  const mean = labels.length / Math.max(1, values.length);
  return { counts, maxDeviation: values.reduce((m, c) => Math.max(m, Math.abs(c / mean - 1)), 0) };
}

/** Every word any dataset shows a model (corpus, MRs, references, queries, sentences, NER tokens). */
export function datasetVocabulary(d: WorldDatasets): Set<string> {
  const vocab = new Set<string>();
  const add = (line: string) => { for (const w of words(line)) vocab.add(w); };
  d.corpus.forEach(add);
  for (const s of SPLITS) {
    for (const r of d.tableToText[s]) { add(r.mr); r.references.forEach(add); }
    for (const p of d.probing[s]) { p.masked.forEach(add); p.prompts.forEach(add); add(p.object); }
    for (const task of ['sentiment', 'topic'] as const) for (const e of d.classification[task][s]) add(e.sentence);
    for (const n of d.ner[s]) n.tokens.forEach((t) => vocab.add(t));
  }
  return vocab;
}

export interface WorldStats {
  readonly world: { readonly countries: number; readonly cities: number; readonly people: number; readonly restaurants: number; readonly facts: number };
  readonly vocabularySize: number;
  readonly corpus: TextStats;
  readonly tableToText: Readonly<Record<Split, { readonly records: number; readonly references: number; readonly venues: number }>> & { readonly referenceStats: TextStats };
  readonly probing: Readonly<Record<Split, { readonly facts: number; readonly byRelation: Readonly<Record<string, number>> }>>;
  readonly classification: Readonly<Record<ClassificationTask, Readonly<Record<Split, LabelBalance>>>>;
  readonly ner: Readonly<Record<Split, { readonly sentences: number; readonly entities: Readonly<Record<string, number>> }>> & { readonly tokenStats: TextStats };
}

export function worldStats(d: WorldDatasets): WorldStats {
  const per = <T>(f: (s: Split) => T): Record<Split, T> => ({ train: f('train'), dev: f('dev'), test: f('test') });
  const count = (xs: readonly string[]) => labelBalance(xs).counts;
  return {
    world: {
      countries: d.world.countries.length, cities: d.world.cities.length, people: d.world.people.length,
      restaurants: d.world.restaurants.length, facts: worldFacts(d.world).length,
    },
    vocabularySize: datasetVocabulary(d).size,
    corpus: textStats(d.corpus),
    tableToText: {
      ...per((s) => ({
        records: d.tableToText[s].length,
        references: d.tableToText[s].reduce((a, r) => a + r.references.length, 0),
        venues: new Set(d.tableToText[s].map((r) => r.attributes.name)).size,
      })),
      referenceStats: textStats(SPLITS.flatMap((s) => d.tableToText[s].flatMap((r) => r.references))),
    },
    probing: per((s) => ({ facts: d.probing[s].length, byRelation: count(d.probing[s].map((p) => p.relation)) })),
    classification: {
      sentiment: per((s) => labelBalance(d.classification.sentiment[s].map((e) => e.label))),
      topic: per((s) => labelBalance(d.classification.topic[s].map((e) => e.label))),
    },
    ner: {
      ...per((s) => ({ sentences: d.ner[s].length, entities: count(d.ner[s].flatMap((n) => n.tags.filter((t) => t.startsWith('B-')).map((t) => t.slice(2)))) })),
      tokenStats: textStats(SPLITS.flatMap((s) => d.ner[s].map((n) => n.tokens))),
    },
  };
}
