// Tokenizers: GPT-2 byte-level BPE and BERT WordPiece (own implementations), tokenizer.json via
// @huggingface/tokenizers, loading by directory, writers, and small trainers for own vocabularies.

export type { BpeModel, PairEncoding, SpecialTokenIds, Tokenizer, TokenizerKind } from './types.js';
export { TokenizerFileError } from './types.js';
export { Gpt2BpeTokenizer } from './gpt2-bpe.js';
export { BertWordPieceTokenizer, BERT_SPECIAL_TOKENS, type BertTokenizerOptions } from './bert-wordpiece.js';
export { basicTokenize, type BasicTokenizerOptions } from './bert-basic.js';
export { HfTokenizer } from './hf.js';
export { EOT, loadTokenizer, loadGpt2BpeTokenizer, loadBertTokenizer, loadHfTokenizer } from './load.js';
export { writeGpt2Vocab, writeGpt2TokenizerJson, writeBertVocab, writeBertTokenizerJson } from './write.js';
export { gpt2TokenizerJson, bertTokenizerJson, type BertJsonOptions } from './tokenizer-json.js';
export { trainByteLevelBpe } from './train-bpe.js';
export { buildWordPieceVocab, type WordPieceVocabOptions } from './build-wordpiece.js';
