// Finding and reading a tokenizer directory: tokenizer.json first (the library runs it), else
// GPT-2's vocab.json + merges.txt, else BERT's vocab.txt.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as t from 'io-ts';
import { decodeOrThrow } from '../../util/decode.js';
import { BertWordPieceTokenizer } from './bert-wordpiece.js';
import { parseGpt2Vocab, parseJsonFile, parseMerges, parseTokenIds, parseVocabTxt } from './files.js';
import { Gpt2BpeTokenizer } from './gpt2-bpe.js';
import { HfTokenizer, HfTokenizerConfig } from './hf.js';
import { TokenizerFileError, type Tokenizer } from './types.js';

export const EOT = '<|endoftext|>';

export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  if (!(await isDirectory(dir))) throw new TokenizerFileError(`tokenizer directory ${dir} does not exist or is not a directory`);
  if (await isFile(join(dir, 'tokenizer.json'))) return loadHfTokenizer(dir);
  const hasVocabJson = await isFile(join(dir, 'vocab.json'));
  const hasMerges = await isFile(join(dir, 'merges.txt'));
  if (hasVocabJson && hasMerges) return loadGpt2BpeTokenizer(dir);
  if (await isFile(join(dir, 'vocab.txt'))) return loadBertTokenizer(dir);
  const half = hasVocabJson ? ' (vocab.json is there but merges.txt is not)' : hasMerges ? ' (merges.txt is there but vocab.json is not)' : '';
  throw new TokenizerFileError(`no tokenizer in ${dir}: looked for tokenizer.json, vocab.json + merges.txt (GPT-2 BPE), vocab.txt (BERT WordPiece)${half}`);
}

/** vocab.json + merges.txt; special tokens: `<|endoftext|>` if in the vocabulary, and those of an optional added_tokens.json. */
export async function loadGpt2BpeTokenizer(dir: string): Promise<Gpt2BpeTokenizer> {
  const addedPath = join(dir, 'added_tokens.json');
  const added = (await isFile(addedPath)) ? parseTokenIds(await readText(addedPath), addedPath) : new Map<string, number>();
  const vocabPath = join(dir, 'vocab.json');
  const vocab = parseGpt2Vocab(await readText(vocabPath), vocabPath, new Set(added.keys()));
  const byId = new Map([...vocab].map(([tok, id]) => [id, tok]));
  for (const [tok, id] of added) {
    const holder = byId.get(id);
    if (holder !== undefined && holder !== tok) throw new TokenizerFileError(`${addedPath}: key ${JSON.stringify(tok)}: id ${id} is already the id of ${JSON.stringify(holder)} in vocab.json`);
    const known = vocab.get(tok);
    if (known !== undefined && known !== id) throw new TokenizerFileError(`${addedPath}: key ${JSON.stringify(tok)}: id ${id}, but vocab.json gives it ${known}`);
    vocab.set(tok, id);
  }
  const mergesPath = join(dir, 'merges.txt');
  const merges = parseMerges(await readText(mergesPath), mergesPath, vocab);
  const specialTokens = [...added.keys()];
  if (vocab.has(EOT) && !added.has(EOT)) specialTokens.push(EOT);
  return new Gpt2BpeTokenizer({ vocab, merges, specialTokens });
}

const BertConfig = t.partial({
  do_lower_case: t.boolean,
  strip_accents: t.union([t.boolean, t.null]),
  tokenize_chinese_chars: t.boolean,
});

/** vocab.txt; lower-casing from tokenizer_config.json's do_lower_case, true when absent (bert-base-uncased). */
export async function loadBertTokenizer(dir: string): Promise<BertWordPieceTokenizer> {
  const vocabPath = join(dir, 'vocab.txt');
  const tokens = parseVocabTxt(await readText(vocabPath), vocabPath);
  const configPath = join(dir, 'tokenizer_config.json');
  const config = (await isFile(configPath)) ? decodeOrThrow(BertConfig, parseJsonFile(await readText(configPath), configPath), configPath) : {};
  try {
    return new BertWordPieceTokenizer(tokens, {
      lowerCase: config.do_lower_case ?? true,
      stripAccents: config.strip_accents ?? undefined,
      tokenizeChineseChars: config.tokenize_chinese_chars,
    });
  } catch (e) {
    throw new TokenizerFileError(`${vocabPath}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** tokenizer.json, with tokenizer_config.json beside it when there is one. */
export async function loadHfTokenizer(dir: string): Promise<HfTokenizer> {
  const jsonPath = join(dir, 'tokenizer.json');
  const json = parseJsonFile(await readText(jsonPath), jsonPath);
  const configPath = join(dir, 'tokenizer_config.json');
  const config = (await isFile(configPath)) ? decodeOrThrow(HfTokenizerConfig, parseJsonFile(await readText(configPath), configPath), configPath) : {};
  return new HfTokenizer(json, config, jsonPath);
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new TokenizerFileError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}
