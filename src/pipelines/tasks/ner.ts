// Named-entity recognition records ({tokens, tags}: the world's NER set or CoNLL-2003 files) and
// the model examples made from them: words -> word pieces, the word's tag on its first piece and
// -100 (no loss) on the others and on [CLS]/[SEP], as Hugging Face's token-classification recipe.

import { readFileSync } from 'node:fs';
import { map, type Observable } from 'rxjs';
import { fromArray, fromConll } from '../data/index.js';
import { generateWorld, ner, NER_LABELS } from '../world/index.js';
import type { Tokenizer } from '../../models/tokenizers/index.js';
import type { DataSource, TaskSpec } from '../spec.js';
import { IGNORE } from './examples.js';

export interface NerRecord {
  readonly tokens: readonly string[];
  readonly tags: readonly string[];
}

export interface NerExample {
  readonly input_ids: number[];
  readonly labels: number[];
  /** Position of each word's first piece, -1 for words cut by maxLength. */
  readonly wordStarts: number[];
}

type NerTask = Extract<TaskSpec, { kind: 'ner' }>;

/** The task's tag set: `labels`, else NER_LABELS (world), else the sorted tags of the CoNLL files. */
export function nerLabels(task: NerTask): readonly string[] {
  if (task.labels) return task.labels;
  const files = [task.train, task.eval].flatMap((s) => (s.format === 'conll' ? [s.path] : []));
  if (files.length === 0) return NER_LABELS;
  const tags = new Set<string>(task.train.format === 'world' || task.eval.format === 'world' ? NER_LABELS : []);
  for (const f of files) for (const tag of conllTags(f)) tags.add(tag);
  return [...tags].sort();
}

/** The last column of every token line (a quick scan; fromConll validates while streaming). */
function conllTags(path: string): Set<string> {
  const tags = new Set<string>();
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('-DOCSTART-')) continue;
    const cols = line.split(/\s+/);
    tags.add(cols[cols.length - 1]);
  }
  return tags;
}

/** The sentences of a source; tags outside the label set are an error. */
export function nerRecords(src: DataSource, labels: readonly string[]): Observable<NerRecord> {
  let records: Observable<NerRecord>;
  if (src.format === 'world') records = fromArray(ner(generateWorld(src.seed ?? 1), { split: src.split }).slice(0, src.limit));
  else if (src.format === 'conll') records = fromConll(src.path);
  else throw new Error(`ner reads 'world' or 'conll' data, not '${src.format}'`);
  const known = new Set(labels);
  const where = src.format === 'world' ? `world ${src.split}` : src.path;
  return records.pipe(map((r) => {
    const bad = r.tags.find((t) => !known.has(t));
    if (bad !== undefined) throw new Error(`${where}: tag ${JSON.stringify(bad)} is not in the task's labels (${labels.join(', ')})`);
    return r;
  }));
}

/** `[CLS] pieces... [SEP]` (BERT) or the pieces alone, labels on first pieces; cut to maxLength. */
export function nerExample(tok: Tokenizer, r: NerRecord, labels: readonly string[], maxLength: number): NerExample {
  const { cls, sep } = tok.specialTokens;
  const wrap = cls !== undefined && sep !== undefined;
  const room = maxLength - (wrap ? 2 : 0);
  const ids: number[] = wrap ? [cls] : [];
  const tags: number[] = wrap ? [IGNORE] : [];
  const wordStarts: number[] = [];
  let full = false; // once a word does not fit, the rest of the sentence is cut too
  r.tokens.forEach((word, i) => {
    // GPT-2's BPE needs the space before a word; WordPiece ignores it.
    const pieces = tok.encode(i === 0 ? word : ` ${word}`);
    if (full || pieces.length === 0 || ids.length - (wrap ? 1 : 0) + pieces.length > room) {
      full ||= pieces.length > 0;
      wordStarts.push(-1);
      return;
    }
    wordStarts.push(ids.length);
    pieces.forEach((id, k) => {
      ids.push(id);
      tags.push(k === 0 ? labels.indexOf(r.tags[i]) : IGNORE);
    });
  });
  if (wrap) {
    ids.push(sep);
    tags.push(IGNORE);
  }
  return { input_ids: ids, labels: tags, wordStarts };
}
