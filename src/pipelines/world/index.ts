// The bundled synthetic world: generator, task sets, statistics and on-disk export.

export * from './types.js';
export { generateWorld, indexWorld, ratingPolarity, DEFAULT_WORLD_OPTIONS, type WorldIndex } from './world.js';
export { RELATIONS, relationSpec, manualPrompt, type RelationId, type RelationSpec } from './relations.js';
export { worldFacts, factBindings, type Fact } from './facts.js';
export { render, text, type Rendered, type Bindings, type SlotValue, type Tag } from './template.js';
export { E2E_KEYS, mrString, parseMr, type E2EAttributes, type E2EKey } from './e2e.js';
export { pretrainCorpus, factStatements, DEFAULT_CORPUS_MIX, type CorpusMix, type CorpusOptions } from './corpus.js';
export { tableToText, DEFAULT_TABLE_SIZES, type TableRecord, type TableToTextOptions } from './table-to-text.js';
export { probing, probeItem, gptPrefix, DEFAULT_PROBING_PROPORTIONS, type ProbeItem, type ProbingOptions } from './probing.js';
export {
  classification, LABEL_NAMES, DEFAULT_CLASSIFICATION_SIZES,
  type ClassificationExample, type ClassificationOptions, type ClassificationTask,
} from './classification.js';
export { ner, NER_LABELS, DEFAULT_NER_SIZES, type NerOptions, type NerSentence } from './ner.js';
export { buildWorldDatasets, type WorldDatasets, type WorldDatasetOptions, type BySplit } from './datasets.js';
export { textStats, labelBalance, datasetVocabulary, worldStats, words, type TextStats, type LabelBalance, type WorldStats } from './stats.js';
export { csvField, toE2ECsv, toJsonl, toConll, lamaRow, type LamaRow } from './formats.js';
export { writeWorldDatasets, E2E_FILES, GLUE_FILES, CONLL_FILES, type WrittenWorld } from './write.js';
