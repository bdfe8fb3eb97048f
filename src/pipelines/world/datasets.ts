// Everything the bundled world provides, built in memory from one seed: the input of
// writeWorldDatasets and worldStats.

import { classification, DEFAULT_CLASSIFICATION_SIZES, type ClassificationExample, type ClassificationTask } from './classification.js';
import { pretrainCorpus, type CorpusOptions } from './corpus.js';
import { DEFAULT_NER_SIZES, ner, type NerSentence } from './ner.js';
import { DEFAULT_PROBING_PROPORTIONS, probing, type ProbeItem } from './probing.js';
import { DEFAULT_TABLE_SIZES, tableToText, type TableRecord } from './table-to-text.js';
import { type Split, type SplitSizes, type World, type WorldOptions } from './types.js';
import { generateWorld } from './world.js';

export interface WorldDatasetOptions {
  readonly world?: Partial<WorldOptions>;
  readonly corpus?: Partial<Omit<CorpusOptions, 'seed'>>;
  readonly tableToText?: SplitSizes;
  readonly probing?: SplitSizes;
  readonly classification?: SplitSizes;
  readonly ner?: SplitSizes;
}

export type BySplit<T> = Readonly<Record<Split, readonly T[]>>;

export interface WorldDatasets {
  readonly world: World;
  readonly corpus: readonly string[];
  readonly tableToText: BySplit<TableRecord>;
  readonly probing: BySplit<ProbeItem>;
  readonly classification: Readonly<Record<ClassificationTask, BySplit<ClassificationExample>>>;
  readonly ner: BySplit<NerSentence>;
}

export function buildWorldDatasets(seed: number, opts: WorldDatasetOptions = {}): WorldDatasets {
  const world = generateWorld(seed, opts.world);
  const bySplit = <T>(f: (split: Split) => T[]): BySplit<T> => ({ train: f('train'), dev: f('dev'), test: f('test') });
  const cls = (task: ClassificationTask) => bySplit((split) => classification(world, { split, task, sizes: opts.classification ?? DEFAULT_CLASSIFICATION_SIZES }));
  return {
    world,
    corpus: pretrainCorpus(world, opts.corpus),
    tableToText: bySplit((split) => tableToText(world, { split, sizes: opts.tableToText ?? DEFAULT_TABLE_SIZES })),
    probing: bySplit((split) => probing(world, { split, proportions: opts.probing ?? DEFAULT_PROBING_PROPORTIONS })),
    classification: { sentiment: cls('sentiment'), topic: cls('topic') },
    ner: bySplit((split) => ner(world, { split, sizes: opts.ner ?? DEFAULT_NER_SIZES })),
  };
}

