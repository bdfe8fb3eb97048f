// The one face every tokenizer shows, whatever file format or library is behind it.

/** Ids of the special tokens a vocabulary has; absent where the vocabulary has no such token. */
export interface SpecialTokenIds {
  readonly bos?: number;
  readonly eos?: number;
  readonly pad?: number;
  readonly unk?: number;
  readonly cls?: number;
  readonly sep?: number;
  readonly mask?: number;
}

/** A BERT-style input: `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, segment 0 then segment 1. */
export interface PairEncoding {
  readonly inputIds: number[];
  readonly tokenTypeIds: number[];
}

export type TokenizerKind = 'gpt2-bpe' | 'bert-wordpiece' | 'hf-tokenizer-json';

export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** One past the largest id: the embedding table's row count. */
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokenIds;
  /** Ids of `text` with no special tokens added (those written literally in the text are kept). */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Present where the vocabulary has a pair template (BERT): `b` omitted gives `[CLS] a [SEP]`. */
  readonly encodePair?: (a: string, b?: string) => PairEncoding;
}

/** A byte-level BPE model: what the trainer produces and the GPT-2 files hold. */
export interface BpeModel {
  readonly vocab: ReadonlyMap<string, number>;
  /** In rank order: the first merge is applied first. */
  readonly merges: readonly (readonly [string, string])[];
  /** Tokens matched literally in text before pre-tokenization (`<|endoftext|>`). */
  readonly specialTokens: readonly string[];
}

/** A file that is not what its format says, named with the line or key at fault. */
export class TokenizerFileError extends Error {
  override name = 'TokenizerFileError';
}
