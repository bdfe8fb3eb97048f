// Parsers for the plain vocabulary files, pure on text so every error can name the file and the
// line or key at fault. `file` is the path shown in messages.

import * as t from 'io-ts';
import { decodeOrThrow } from '../../util/decode.js';
import { isByteLevelString } from './byte-level.js';
import { TokenizerFileError } from './types.js';

export function parseJsonFile(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerFileError(`${file}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const TokenIds = t.record(t.string, t.Int);

/** A `{ token: id }` object (vocab.json, added_tokens.json): ids are integers >= 0, no id twice. */
export function parseTokenIds(text: string, file: string): Map<string, number> {
  const raw = parseJsonFile(text, file);
  decodeOrThrow(TokenIds, raw, file);
  const vocab = new Map<string, number>();
  const owner = new Map<number, string>();
  // Entries read from the parsed object itself: a "__proto__" key survives JSON.parse but not a copy.
  for (const [token, id] of Object.entries(raw as Record<string, number>)) {
    if (id < 0) throw new TokenizerFileError(`${file}: key ${JSON.stringify(token)}: id ${id} is negative`);
    const other = owner.get(id);
    if (other !== undefined) throw new TokenizerFileError(`${file}: key ${JSON.stringify(token)}: id ${id} is already the id of ${JSON.stringify(other)}`);
    owner.set(id, token);
    vocab.set(token, id);
  }
  return vocab;
}

/** vocab.json of a byte-level BPE: every token but the special ones is written in the byte alphabet. */
export function parseGpt2Vocab(text: string, file: string, specials: ReadonlySet<string>): Map<string, number> {
  const vocab = parseTokenIds(text, file);
  for (const token of vocab.keys()) {
    if (!specials.has(token) && !isByteLevelString(token)) {
      throw new TokenizerFileError(`${file}: key ${JSON.stringify(token)}: not a byte-level BPE token (characters outside GPT-2's byte alphabet)`);
    }
  }
  return vocab;
}

/** merges.txt: an optional `#version` first line, then `left right` per line, each side a vocabulary token. */
export function parseMerges(text: string, file: string, vocab: ReadonlyMap<string, number>): [string, string][] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const merges: [string, string][] = [];
  lines.forEach((line, i) => {
    if (i === 0 && line.startsWith('#version')) return;
    const where = `${file}: line ${i + 1}`;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new TokenizerFileError(`${where}: expected two tokens separated by one space, got ${JSON.stringify(line)}`);
    }
    const [a, b] = parts;
    for (const tok of [a, b, a + b]) {
      if (!vocab.has(tok)) throw new TokenizerFileError(`${where}: ${JSON.stringify(tok)} is not in the vocabulary`);
    }
    merges.push([a, b]);
  });
  return merges;
}

/** vocab.txt: one token per line, the id being the line's index; no empty line, no token twice. */
export function parseVocabTxt(text: string, file: string): string[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const seen = new Map<string, number>();
  lines.forEach((token, i) => {
    if (token === '') throw new TokenizerFileError(`${file}: line ${i + 1}: empty token`);
    const first = seen.get(token);
    if (first !== undefined) throw new TokenizerFileError(`${file}: line ${i + 1}: ${JSON.stringify(token)} already appears on line ${first + 1}`);
    seen.set(token, i);
  });
  if (lines.length === 0) throw new TokenizerFileError(`${file}: no tokens`);
  return lines;
}
