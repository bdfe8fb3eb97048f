// GPT-2's byte-level BPE (OpenAI encoder.py): special tokens cut out literally, the rest split by
// the GPT-2 regex, each pre-token's UTF-8 bytes mapped to the byte-level alphabet and merged by rank.

import { fromByteLevel, preTokenizeByteLevel } from './byte-level.js';
import { findSpecialIds } from './special-ids.js';
import { specialSplitter, type SpecialSplitter } from './special-split.js';
import type { BpeModel, SpecialTokenIds, Tokenizer } from './types.js';

/** The cache is dropped whole when full: pre-tokens repeat heavily, so this keeps it simple and bounded. */
const CACHE_LIMIT = 50_000;

export class Gpt2BpeTokenizer implements Tokenizer {
  readonly kind = 'gpt2-bpe' as const;
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokenIds;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly tokens: (string | undefined)[] = [];
  private readonly ranks = new Map<string, number>();
  private readonly specials: ReadonlySet<string>;
  private readonly split: SpecialSplitter;
  private readonly cache = new Map<string, string[]>();

  constructor(model: BpeModel) {
    this.vocab = model.vocab;
    for (const [token, id] of model.vocab) {
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`BPE vocabulary: id of ${JSON.stringify(token)} is ${id}, not an integer >= 0`);
      const other = this.tokens[id];
      if (other !== undefined) throw new RangeError(`BPE vocabulary: id ${id} is given to both ${JSON.stringify(other)} and ${JSON.stringify(token)}`);
      this.tokens[id] = token;
    }
    this.vocabSize = this.tokens.length;
    model.merges.forEach(([a, b], rank) => {
      const key = mergeKey(a, b);
      if (!this.ranks.has(key)) this.ranks.set(key, rank); // a repeated merge keeps its first (best) rank
    });
    for (const s of model.specialTokens) {
      if (!model.vocab.has(s)) throw new RangeError(`BPE vocabulary: special token ${JSON.stringify(s)} has no id`);
    }
    this.specials = new Set(model.specialTokens);
    this.split = specialSplitter(model.specialTokens);
    this.specialTokens = findSpecialIds((t) => (this.specials.has(t) ? this.vocab.get(t) : undefined));
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.split(text)) {
      if (piece.special) { ids.push(this.vocab.get(piece.text)!); continue; }
      for (const word of preTokenizeByteLevel(piece.text)) {
        for (const token of this.bpe(word)) {
          const id = this.vocab.get(token);
          // Only a vocabulary missing a byte symbol or a merge result gets here.
          if (id === undefined) throw new RangeError(`BPE: token ${JSON.stringify(token)} (from ${JSON.stringify(piece.text)}) is not in the vocabulary`);
          ids.push(id);
        }
      }
    }
    return ids;
  }

  decode(ids: readonly number[]): string {
    let out = '';
    let pending = ''; // byte-level symbols not yet decoded: a character may span several tokens
    for (const id of ids) {
      const token = this.tokens[id];
      if (token === undefined) throw new RangeError(`BPE decode: id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      if (this.specials.has(token)) {
        out += fromByteLevel(pending) + token;
        pending = '';
      } else {
        pending += token;
      }
    }
    return out + fromByteLevel(pending);
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Repeatedly merges the lowest-ranked adjacent pair, every occurrence left to right. */
  private bpe(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    let parts = word.split(''); // byte-level characters are all single UTF-16 units
    while (parts.length > 1) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = this.ranks.get(mergeKey(parts[i], parts[i + 1]));
        if (rank !== undefined && rank < best) { best = rank; at = i; }
      }
      if (at < 0) break;
      const a = parts[at], b = parts[at + 1];
      const merged: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) { merged.push(a + b); i++; }
        else merged.push(parts[i]);
      }
      parts = merged;
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, parts);
    return parts;
  }
}

// Merge parts never hold a space (merges.txt separates them by one), so this key is unambiguous.
function mergeKey(a: string, b: string): string {
  return a + ' ' + b;
}
