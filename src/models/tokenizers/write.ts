// Writers for the vocabularies the project makes itself, in the files loadTokenizer reads.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bertTokenizerJson, gpt2TokenizerJson, type BertJsonOptions } from './tokenizer-json.js';
import type { BpeModel } from './types.js';

/**
 * vocab.json (token -> id, in id order) and merges.txt (`#version: 0.2` then one merge a line).
 * Special tokens, when given, also go to added_tokens.json so the loader matches them literally.
 */
export async function writeGpt2Vocab(dir: string, vocab: BpeModel['vocab'], merges: BpeModel['merges'], specialTokens: readonly string[] = []): Promise<void> {
  await mkdir(dir, { recursive: true });
  const inIdOrder = [...vocab].sort((x, y) => x[1] - y[1]);
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(inIdOrder)) + '\n');
  await writeFile(join(dir, 'merges.txt'), ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n');
  if (specialTokens.length > 0) {
    const added = specialTokens.map((s) => {
      const id = vocab.get(s);
      if (id === undefined) throw new RangeError(`writeGpt2Vocab: special token ${JSON.stringify(s)} is not in the vocabulary`);
      return [s, id] as const;
    });
    await writeFile(join(dir, 'added_tokens.json'), JSON.stringify(Object.fromEntries(added)) + '\n');
  }
}

/** tokenizer.json for a byte-level BPE model (what @huggingface/tokenizers and HF `tokenizers` load). */
export async function writeGpt2TokenizerJson(dir: string, model: BpeModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(gpt2TokenizerJson(model), null, 2) + '\n');
}

/** vocab.txt (line i holds token i) and tokenizer_config.json with do_lower_case (default true). */
export async function writeBertVocab(dir: string, tokens: readonly string[], options: BertJsonOptions = {}): Promise<void> {
  for (const [i, t] of tokens.entries()) {
    if (t === '' || /\s/u.test(t)) throw new RangeError(`writeBertVocab: token ${i} (${JSON.stringify(t)}) is empty or holds whitespace`);
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'vocab.txt'), tokens.join('\n') + '\n');
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: options.lowerCase ?? true }, null, 2) + '\n');
}

/** tokenizer.json for a WordPiece vocabulary (BertNormalizer + BertPreTokenizer + WordPiece). */
export async function writeBertTokenizerJson(dir: string, tokens: readonly string[], options: BertJsonOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(bertTokenizerJson(tokens, options), null, 2) + '\n');
}
