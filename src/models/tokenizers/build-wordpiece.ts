// A simple WordPiece vocabulary builder for the project's own corpora: special tokens, every
// character seen (alone and as a `##` continuation), then pieces learned by merging the most
// frequent adjacent pair of pieces (the way HF's WordPiece trainer does, without its scoring).

import { basicTokenize } from './bert-basic.js';
import { BERT_SPECIAL_TOKENS, CONTINUATION, MAX_CHARS_PER_WORD } from './bert-wordpiece.js';
import { learnMerges, type WordCount } from './learn-merges.js';
import { specialSplitter } from './special-split.js';

export interface WordPieceVocabOptions {
  /** Must match the tokenizer that will use the vocabulary. Default true. */
  readonly lowerCase?: boolean;
}

/** Tokens in id order ([PAD] [UNK] [CLS] [SEP] [MASK] first), for writeBertVocab. */
export function buildWordPieceVocab(corpus: Iterable<string>, vocabSize: number, options: WordPieceVocabOptions = {}): string[] {
  const lowerCase = options.lowerCase ?? true;
  const split = specialSplitter(BERT_SPECIAL_TOKENS);
  const freq = new Map<string, number>();
  for (const text of corpus) {
    for (const piece of split(text)) {
      if (piece.special) continue;
      for (const word of basicTokenize(piece.text, { lowerCase })) freq.set(word, (freq.get(word) ?? 0) + 1);
    }
  }

  const chars = new Set<string>();
  const words: WordCount[] = [];
  for (const [word, count] of freq) {
    const cs = [...word];
    if (cs.length > MAX_CHARS_PER_WORD) continue; // such a word is [UNK] whatever the vocabulary
    cs.forEach((c) => chars.add(c));
    words.push({ symbols: cs.map((c, i) => (i === 0 ? c : CONTINUATION + c)), count });
  }
  const alphabet = [...chars].sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);
  const tokens: string[] = [...BERT_SPECIAL_TOKENS, ...alphabet, ...alphabet.map((c) => CONTINUATION + c)];
  if (!Number.isInteger(vocabSize) || vocabSize < tokens.length) {
    throw new RangeError(`buildWordPieceVocab: vocabSize ${vocabSize} is below the ${tokens.length} base tokens (5 special + ${alphabet.length} characters, each also as ##)`);
  }

  // A continuation piece loses its `##` when joined on: "ab" + "##c" = "abc", "##a" + "##b" = "##ab".
  const join = (a: string, b: string): string => a + b.slice(CONTINUATION.length);
  const { added } = learnMerges(words, vocabSize - tokens.length, join, new Set(tokens));
  return [...tokens, ...added];
}
