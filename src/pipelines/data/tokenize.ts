// tokenize: adds `input_ids` from any encoder with encode(text) -> ids. The interface is local so
// data pipelines need not load the tokenizer module (models/tokenizers' Tokenizer satisfies it).

import { map, type OperatorFunction } from 'rxjs';

export interface TextEncoderLike {
  encode(text: string): readonly number[];
}

export interface Tokenized {
  readonly input_ids: number[];
}

export function tokenize<T extends { readonly text: string }>(tokenizer: TextEncoderLike): OperatorFunction<T, T & Tokenized>;
export function tokenize<T>(tokenizer: TextEncoderLike, textOf: (item: T) => string): OperatorFunction<T, T & Tokenized>;
export function tokenize<T>(tokenizer: TextEncoderLike, textOf?: (item: T) => string): OperatorFunction<T, T & Tokenized> {
  const text = textOf ?? ((item: T) => (item as T & { readonly text: string }).text);
  return map((item: T) => ({ ...item, input_ids: [...tokenizer.encode(text(item))] }));
}
