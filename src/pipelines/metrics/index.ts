// Evaluation metrics. Every score is a fraction in [0, 1]; multiply by 100 for the usual tables.
export { accuracy, macroF1, perClassF1, type Label, type ClassF1 } from './classification.js';
export { entityF1, entitiesOf, type Entity, type EntityScores } from './seqeval.js';
export { normalizeAnswer, exactMatch, tokenF1, squadScores } from './squad.js';
export { corpusBleu, tokenize13a, type BleuResult, type BleuSmoothing } from './bleu.js';
export { rougeL, rougeLSentence, lcsLength, tokenizeRouge, type RougeLScore } from './rouge.js';
