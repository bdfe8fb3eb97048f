// Which special roles a vocabulary fills, found by the spellings GPT-2, BERT and RoBERTa-style
// vocabularies use. The first spelling present wins.

import type { SpecialTokenIds } from './types.js';

type Role = keyof SpecialTokenIds;

export const SPECIAL_SPELLINGS: Readonly<Record<Role, readonly string[]>> = {
  bos: ['<|endoftext|>', '<s>', '[BOS]'],
  eos: ['<|endoftext|>', '</s>', '[EOS]'],
  pad: ['[PAD]', '<|pad|>', '<pad>'],
  unk: ['[UNK]', '<|unk|>', '<unk>'],
  cls: ['[CLS]'],
  sep: ['[SEP]'],
  mask: ['[MASK]', '<|mask|>', '<mask>'],
};

/** `lookup` answers for the tokens that may act as special ones (not every vocabulary entry). */
export function findSpecialIds(lookup: (token: string) => number | undefined, overrides: Partial<Record<Role, string>> = {}): SpecialTokenIds {
  const out: { -readonly [K in Role]?: number } = {};
  for (const role of Object.keys(SPECIAL_SPELLINGS) as Role[]) {
    const spellings = overrides[role] !== undefined ? [overrides[role]] : SPECIAL_SPELLINGS[role];
    for (const s of spellings) {
      const id = lookup(s);
      if (id !== undefined) { out[role] = id; break; }
    }
  }
  return out;
}
