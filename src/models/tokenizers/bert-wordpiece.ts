// BERT's tokenizer: literal special tokens kept whole, BasicTokenizer, then greedy
// longest-match-first WordPiece with `##` marking a piece that continues a word.

import { basicTokenize, type BasicTokenizerOptions } from './bert-basic.js';
import { findSpecialIds } from './special-ids.js';
import { specialSplitter, type SpecialSplitter } from './special-split.js';
import type { PairEncoding, SpecialTokenIds, Tokenizer } from './types.js';

export const BERT_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
export const CONTINUATION = '##';
/** A longer word is one [UNK], as in BERT. */
export const MAX_CHARS_PER_WORD = 100;

export interface BertTokenizerOptions {
  readonly lowerCase?: boolean;
  readonly stripAccents?: boolean;
  readonly tokenizeChineseChars?: boolean;
}

export class BertWordPieceTokenizer implements Tokenizer {
  readonly kind = 'bert-wordpiece' as const;
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokenIds;
  readonly lowerCase: boolean;
  private readonly vocab = new Map<string, number>();
  private readonly tokens: readonly string[];
  private readonly basic: BasicTokenizerOptions;
  private readonly split: SpecialSplitter;
  private readonly unk: string;

  /** `tokens[i]` has id i, as the lines of vocab.txt. */
  constructor(tokens: readonly string[], options: BertTokenizerOptions = {}) {
    tokens.forEach((t, id) => {
      if (this.vocab.has(t)) throw new RangeError(`WordPiece vocabulary: ${JSON.stringify(t)} appears at ids ${this.vocab.get(t)} and ${id}`);
      this.vocab.set(t, id);
    });
    if (!this.vocab.has('[UNK]')) throw new RangeError('WordPiece vocabulary: no [UNK] token');
    this.unk = '[UNK]';
    this.tokens = [...tokens];
    this.vocabSize = tokens.length;
    this.lowerCase = options.lowerCase ?? true;
    this.basic = { lowerCase: this.lowerCase, stripAccents: options.stripAccents, tokenizeChineseChars: options.tokenizeChineseChars };
    this.split = specialSplitter(BERT_SPECIAL_TOKENS.filter((t) => this.vocab.has(t)));
    this.specialTokens = findSpecialIds((t) => ((BERT_SPECIAL_TOKENS as readonly string[]).includes(t) ? this.vocab.get(t) : undefined));
  }

  encode(text: string): number[] {
    return this.tokenize(text).map((t) => this.vocab.get(t)!);
  }

  /** The WordPiece tokens of `text` (strings, for inspection and tests). */
  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const piece of this.split(text)) {
      if (piece.special) { out.push(piece.text); continue; }
      for (const word of basicTokenize(piece.text, this.basic)) out.push(...this.wordPiece(word));
    }
    return out;
  }

  readonly encodePair = (a: string, b?: string): PairEncoding => {
    const { cls, sep } = this.specialTokens;
    if (cls === undefined || sep === undefined) throw new RangeError('WordPiece vocabulary: encodePair needs [CLS] and [SEP]');
    const first = [cls, ...this.encode(a), sep];
    const second = b === undefined ? [] : [...this.encode(b), sep];
    return { inputIds: [...first, ...second], tokenTypeIds: [...first.map(() => 0), ...second.map(() => 1)] };
  };

  decode(ids: readonly number[]): string {
    const tokens = ids.map((id) => {
      const t = this.tokens[id];
      if (t === undefined) throw new RangeError(`WordPiece decode: id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      return t;
    });
    return tokens.join(' ').replaceAll(` ${CONTINUATION}`, '').trim();
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Greedy longest match from the left; any unmatched remainder makes the whole word [UNK]. */
  private wordPiece(word: string): string[] {
    const chars = [...word];
    if (chars.length > MAX_CHARS_PER_WORD) return [this.unk];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        const piece = (start > 0 ? CONTINUATION : '') + chars.slice(start, end).join('');
        if (this.vocab.has(piece)) { found = piece; break; }
        end--;
      }
      if (found === undefined) return [this.unk];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }
}
