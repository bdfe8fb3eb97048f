// A small byte-level BPE trainer for the project's own corpora: GPT-2 pre-tokenization, pair
// counts weighted by word frequency, most frequent pair merged first (ties: smallest pair).

import { BYTE_TO_CHAR, preTokenizeByteLevel } from './byte-level.js';
import { learnMerges, type WordCount } from './learn-merges.js';
import { specialSplitter } from './special-split.js';
import type { BpeModel } from './types.js';

/**
 * Vocabulary: the special tokens (ids 0..k-1), the 256 byte symbols in byte order, then one token
 * per merge that made a new string, up to `vocabSize` in all (fewer if the corpus runs out of pairs).
 * Special tokens written in the corpus are cut out and not learned from.
 */
export function trainByteLevelBpe(corpus: Iterable<string>, vocabSize: number, specialTokens: readonly string[] = ['<|endoftext|>']): BpeModel {
  const base = specialTokens.length + BYTE_TO_CHAR.length;
  if (!Number.isInteger(vocabSize) || vocabSize < base) {
    throw new RangeError(`trainByteLevelBpe: vocabSize ${vocabSize} is below the ${base} base tokens (${specialTokens.length} special + 256 bytes)`);
  }
  const vocab = new Map<string, number>();
  for (const tok of [...specialTokens, ...BYTE_TO_CHAR]) {
    if (tok === '' || vocab.has(tok)) throw new RangeError(`trainByteLevelBpe: special token ${JSON.stringify(tok)} is empty, repeated or a byte symbol`);
    vocab.set(tok, vocab.size);
  }

  const split = specialSplitter(specialTokens);
  const freq = new Map<string, number>();
  for (const text of corpus) {
    for (const piece of split(text)) {
      if (piece.special) continue;
      for (const word of preTokenizeByteLevel(piece.text)) freq.set(word, (freq.get(word) ?? 0) + 1);
    }
  }
  const words: WordCount[] = [...freq].map(([w, count]) => ({ symbols: w.split(''), count }));

  const known = new Set(vocab.keys());
  const { merges, added } = learnMerges(words, vocabSize - base, (a, b) => a + b, known);
  for (const tok of added) vocab.set(tok, vocab.size);
  return { vocab, merges, specialTokens: [...specialTokens] };
}
