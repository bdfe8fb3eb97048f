// tokenizer.json documents as the Hugging Face `tokenizers` library writes them, so that both
// that library and @huggingface/tokenizers load the vocabularies the project makes itself.

import { BERT_SPECIAL_TOKENS, CONTINUATION, MAX_CHARS_PER_WORD } from './bert-wordpiece.js';
import type { BpeModel } from './types.js';

interface AddedTokenJson {
  id: number; content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean;
}

function addedToken(content: string, id: number): AddedTokenJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** Vocabulary as a JSON object in id order (insertion order is what JSON.stringify keeps). */
function vocabObject(entries: Iterable<readonly [string, number]>): Record<string, number> {
  return Object.fromEntries([...entries].sort((x, y) => x[1] - y[1]));
}

/** GPT-2 style: no normalizer, ByteLevel pre-tokenizer / post-processor / decoder, BPE model. */
export function gpt2TokenizerJson(model: BpeModel): object {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: model.specialTokens.map((s) => addedToken(s, model.vocab.get(s) ?? missing(s))),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObject(model.vocab),
      // Pairs as arrays, the format since tokenizers 0.20 (unambiguous even if a token held a space).
      merges: model.merges.map(([a, b]) => [a, b]),
    },
  };
}

export interface BertJsonOptions {
  readonly lowerCase?: boolean;
}

/**
 * BERT style: BertNormalizer, BertPreTokenizer, WordPiece, [CLS] A [SEP] (B [SEP]) template.
 * The decoder's cleanup is off so decoding is a plain join, like BertWordPieceTokenizer.decode.
 */
export function bertTokenizerJson(tokens: readonly string[], options: BertJsonOptions = {}): object {
  const lowerCase = options.lowerCase ?? true;
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const specials = BERT_SPECIAL_TOKENS.filter((s) => idOf.has(s));
  const id = (s: string): number => idOf.get(s) ?? missing(s);
  const special = (s: string, typeId: number): object => ({ SpecialToken: { id: s, type_id: typeId } });
  const sequence = (s: 'A' | 'B', typeId: number): object => ({ Sequence: { id: s, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => addedToken(s, id(s))),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: lowerCase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0), sequence('B', 1), special('[SEP]', 1)],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((s) => [s, { id: s, ids: [id(s)], tokens: [s] }])),
    },
    decoder: { type: 'WordPiece', prefix: CONTINUATION, cleanup: false },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: CONTINUATION,
      max_input_chars_per_word: MAX_CHARS_PER_WORD,
      vocab: vocabObject(tokens.map((t, i) => [t, i] as const)),
    },
  };
}

function missing(token: string): never {
  throw new RangeError(`tokenizer.json: special token ${JSON.stringify(token)} is not in the vocabulary`);
}
