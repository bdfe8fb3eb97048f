// Records for each task from a data source: the bundled world generator or real files in the
// formats the papers' data sets use (E2E CSV, plain text).

import * as t from 'io-ts';
import { lastValueFrom, map, toArray, type Observable } from 'rxjs';
import { fromArray, fromCsv, readLines, pullable } from '../data/index.js';
import { generateWorld, pretrainCorpus, tableToText } from '../world/index.js';
import type { DataSource } from '../spec.js';

export interface MrRecord {
  readonly mr: string;
  readonly references: readonly string[];
}

const E2ERow = t.type({ mr: t.string, ref: t.string }, 'E2E row {mr, ref}');

/** Table-to-text training pairs (one per reference), streamed. */
export function tableToTextPairs(src: DataSource): Observable<{ mr: string; ref: string }> {
  if (src.format === 'world') {
    const records = tableToText(generateWorld(src.seed ?? 1), { split: src.split }).slice(0, src.limit);
    return fromArray(records.flatMap((r) => r.references.map((ref) => ({ mr: r.mr, ref }))));
  }
  if (src.format === 'e2e-csv') return fromCsv(src.path, { codec: E2ERow });
  throw new Error(`table-to-text reads 'world' or 'e2e-csv' data, not '${src.format}'`);
}

/** Table-to-text evaluation records: references grouped by meaning representation. */
export async function tableToTextRecords(src: DataSource): Promise<MrRecord[]> {
  const pairs = await lastValueFrom(tableToTextPairs(src).pipe(toArray()));
  const byMr = new Map<string, string[]>();
  for (const p of pairs) byMr.set(p.mr, [...(byMr.get(p.mr) ?? []), p.ref]);
  return [...byMr].map(([mr, references]) => ({ mr, references }));
}

/** Language-modelling text, one document per line. */
export function textLines(src: DataSource): Observable<string> {
  if (src.format === 'world') return fromArray(pretrainCorpus(generateWorld(src.seed ?? 1), { seed: src.seed ?? 1 }).slice(0, src.limit));
  if (src.format === 'text') return pullable(() => readLines(src.path));
  throw new Error(`lm reads 'world' or 'text' data, not '${src.format}'`);
}

export { map };
