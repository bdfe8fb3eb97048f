// Sentence classification records ({sentence, label}, as SuperGLUE-style JSONL or the bundled
// world's sentiment/topic sets) and the model examples made from them.

import * as t from 'io-ts';
import { map, type Observable } from 'rxjs';
import { fromArray, fromJsonl } from '../data/index.js';
import { classification, generateWorld } from '../world/index.js';
import type { Tokenizer } from '../../models/tokenizers/index.js';
import type { DataSource } from '../spec.js';

/** One JSONL line: `{"idx": 0, "sentence": "...", "label": 1}` (idx optional). */
export const ClassificationRecordCodec = t.intersection([
  t.type({ sentence: t.string, label: t.Int }),
  t.partial({ idx: t.Int }),
], 'classification record {sentence, label: integer, idx?}');

export interface ClassificationRecord {
  readonly sentence: string;
  readonly label: number;
}

export interface ClassificationExample {
  readonly input_ids: number[];
  readonly labels: number;
}

/** The records of a source; labels outside [0, labels) are an error. */
export function classificationRecords(src: DataSource, labels: number): Observable<ClassificationRecord> {
  let records: Observable<ClassificationRecord>;
  if (src.format === 'world') {
    records = fromArray(classification(generateWorld(src.seed ?? 1), { split: src.split, task: src.task ?? 'sentiment' }).slice(0, src.limit));
  } else if (src.format === 'jsonl') {
    records = fromJsonl(src.path, ClassificationRecordCodec);
  } else {
    throw new Error(`classification reads 'world' or 'jsonl' data, not '${src.format}'`);
  }
  const where = src.format === 'world' ? `world ${src.split}` : src.path;
  return records.pipe(map((r) => {
    if (r.label < 0 || r.label >= labels) throw new Error(`${where}: label ${r.label} is outside 0..${labels - 1} (the task has ${labels} labels)`);
    return r;
  }));
}

/** `[CLS] sentence [SEP]` for BERT (the pair template), the sentence's tokens otherwise; cut to maxLength. */
export function classificationExample(tok: Tokenizer, r: ClassificationRecord, maxLength: number): ClassificationExample {
  let ids = tok.encodePair ? tok.encodePair(r.sentence).inputIds : tok.encode(r.sentence);
  const sep = tok.specialTokens.sep;
  // Keep the closing [SEP] when cutting a BERT input.
  if (ids.length > maxLength) ids = tok.encodePair && sep !== undefined ? [...ids.slice(0, maxLength - 1), sep] : ids.slice(0, maxLength);
  return { input_ids: ids, labels: r.label };
}
