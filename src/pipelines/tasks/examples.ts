// Turning records into model examples (token ids and aligned labels). Labels follow Hugging
// Face's convention: labels[t] is the target for input position t (the GPT-2 graph shifts them),
// and -100 marks positions that carry no loss.

import type { Tokenizer } from '../../models/tokenizers/index.js';

export interface LmExample {
  readonly input_ids: number[];
  readonly labels: number[];
}

export const IGNORE = -100;

/** Plain language modelling: every token is a target. */
export function lmExample(tok: Tokenizer, text: string, maxLength: number): LmExample {
  const eos = tok.specialTokens.eos;
  const ids = [...tok.encode(text), ...(eos !== undefined ? [eos] : [])].slice(0, maxLength);
  return { input_ids: ids, labels: [...ids] };
}

/**
 * Conditional generation (table-to-text, summarization): `source separator target eos`, with the
 * loss on the target only, as prefix-tuning trains. Over-long sources are cut, never targets'
 * first tokens: the source keeps at most maxLength minus the target's length.
 */
export function seq2seqExample(tok: Tokenizer, source: string, target: string, separator: string, maxLength: number): LmExample & { promptLength: number } {
  const eos = tok.specialTokens.eos;
  const tgt = [...tok.encode(` ${target}`), ...(eos !== undefined ? [eos] : [])];
  const prompt = promptIds(tok, source, separator);
  const keep = Math.max(1, Math.min(prompt.length, maxLength - Math.min(tgt.length, maxLength - 1)));
  const src = prompt.slice(0, keep);
  const ids = [...src, ...tgt].slice(0, maxLength);
  return { input_ids: ids, labels: ids.map((id, i) => (i < src.length ? IGNORE : id)), promptLength: src.length };
}

/** The ids a generator is conditioned on: source then separator. */
export function promptIds(tok: Tokenizer, source: string, separator: string): number[] {
  return [...tok.encode(source), ...tok.encode(separator)];
}
