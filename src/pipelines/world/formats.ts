// Serializers to the file formats of the real data sets the project's loaders read:
// E2E CSV, LAMA / SuperGLUE-style JSONL and CoNLL-2003 columns.

import type { ClassificationExample } from './classification.js';
import type { NerSentence } from './ner.js';
import type { ProbeItem } from './probing.js';
import type { TableRecord } from './table-to-text.js';

/** RFC 4180 field: quoted when it holds a comma, quote or line break; quotes doubled. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** E2E CSV: header `mr,ref`, one row per reference (as in the E2E release). */
export function toE2ECsv(records: readonly TableRecord[]): string {
  const rows = ['mr,ref'];
  for (const r of records) for (const ref of r.references) rows.push(`${csvField(r.mr)},${csvField(ref)}`);
  return rows.join('\n') + '\n';
}

export function toJsonl(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
}

/** A LAMA fact line: `masked_sentences` holds every held-out query with [MASK]; `template` is the manual prompt. */
export interface LamaRow {
  readonly sub_label: string;
  readonly obj_label: string;
  readonly predicate_id: string;
  readonly masked_sentences: readonly string[];
  readonly template: string;
}

export function lamaRow(p: ProbeItem): LamaRow {
  return { sub_label: p.subject, obj_label: p.object, predicate_id: p.relation, masked_sentences: p.masked, template: p.manualPrompt };
}

export function superGlueRow(e: ClassificationExample): { idx: number; sentence: string; label: number } {
  return { idx: e.idx, sentence: e.sentence, label: e.label };
}

/** CoNLL-2003: `token POS chunk tag` lines (POS `X`, chunk `O` placeholders), a blank line after each
 *  sentence, and a -DOCSTART- line opening each document of `docSize` sentences. */
export function toConll(sentences: readonly NerSentence[], docSize = 20): string {
  const out: string[] = [];
  sentences.forEach((s, i) => {
    if (i % docSize === 0) out.push('-DOCSTART- -X- -X- O', '');
    s.tokens.forEach((t, j) => out.push(`${t} X O ${s.tags[j]}`));
    out.push('');
  });
  return out.join('\n') + (out.length ? '\n' : '');
}
