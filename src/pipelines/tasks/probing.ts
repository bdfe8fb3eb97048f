// LAMA-style knowledge probing records (the world's probing set, or LAMA JSONL: sub_label,
// obj_label, masked_sentences) and their P-tuning examples. A record's first masked sentence is
// split at its [MASK] into the template slots {before} and {after} ({subject} is the subject);
// the default template is `[P*k] {before} [MASK] {after}` (BERT: the answer is the [MASK] token)
// or `[P*k] {before} [MASK]` (GPT-2: the answer is the token after the prompt). The label is
// the answer's token id; answers of several tokens are skipped and counted.

import * as t from 'io-ts';
import { filter, map, type Observable } from 'rxjs';
import { fromArray, fromJsonl } from '../data/index.js';
import { generateWorld, probing } from '../world/index.js';
import { applyTemplate, parseTemplate, templateFeeds, type Template, type TemplatedExample } from '../../methods/template.js';
import { hostTensor, type HostTensor } from '../../ops/index.js';
import type { Tokenizer } from '../../models/tokenizers/index.js';
import type { DataSource, RunSpec, TaskSpec } from '../spec.js';

/** One LAMA JSONL line (extra fields such as predicate_id, uuid are ignored). */
export const LamaRecordCodec = t.type({
  sub_label: t.string,
  obj_label: t.string,
  masked_sentences: t.refinement(t.array(t.string), (a) => a.length > 0, 'non-empty array of sentences'),
}, 'LAMA record {sub_label, obj_label, masked_sentences}');

export interface ProbingRecord {
  readonly subject: string;
  readonly object: string;
  /** With one literal "[MASK]" at the answer. */
  readonly sentence: string;
}

export interface ProbingExample extends TemplatedExample {
  /** The answer's token id. */
  readonly label: number;
}

export interface ProbingStats {
  /** Records skipped because their answer is more than one token. */
  multiToken: number;
}

export interface ProbingSetup {
  readonly template: Template;
  readonly virtualTokens: number;
  readonly answer: 'mask-token' | 'next-token';
}

type ProbingTask = Extract<TaskSpec, { kind: 'probing' }>;

/** The template and virtual-token count of a probing spec (which must use 'p-tuning'). */
export function probingSetup(spec: RunSpec, tok: Tokenizer): ProbingSetup {
  const task = spec.task as ProbingTask;
  const pt = (spec.methods ?? []).find((m) => m.method === 'p-tuning') as { virtualTokens?: number; template?: string } | undefined;
  if (!pt) throw new Error(`task 'probing' needs a 'p-tuning' method in the spec's methods (it fills the template's virtual tokens); methods: ${(spec.methods ?? []).map((m) => String(m.method)).join(', ') || 'none'}`);
  const virtualTokens = task.virtualTokens ?? Number(pt.virtualTokens);
  const answer = tok.specialTokens.mask !== undefined ? 'mask-token' : 'next-token';
  const source = task.template ?? pt.template ?? (answer === 'mask-token' ? `[P*${virtualTokens}] {before} [MASK] {after}` : `[P*${virtualTokens}] {before} [MASK]`);
  return { template: parseTemplate(source), virtualTokens: Number(pt.virtualTokens), answer };
}

export function probingRecords(src: DataSource): Observable<ProbingRecord> {
  if (src.format === 'world') {
    const items = probing(generateWorld(src.seed ?? 1), { split: src.split }).slice(0, src.limit);
    return fromArray(items.map((p) => ({ subject: p.subject, object: p.object, sentence: p.masked[0] })));
  }
  if (src.format === 'lama') {
    return fromJsonl(src.path, LamaRecordCodec).pipe(map((r) => ({ subject: r.sub_label, object: r.obj_label, sentence: r.masked_sentences[0] })));
  }
  throw new Error(`probing reads 'world' or 'lama' data, not '${src.format}'`);
}

/** The record's answer token id, or null when the answer is several tokens. */
export function answerId(tok: Tokenizer, object: string, answer: ProbingSetup['answer']): number | null {
  const ids = tok.encode(answer === 'next-token' ? ` ${object}` : object);
  return ids.length === 1 ? ids[0] : null;
}

/** Templated examples of a source; multi-token answers are dropped and counted in `stats`. */
export function probingExamples(src: DataSource, tok: Tokenizer, setup: ProbingSetup, maxLength: number, stats?: ProbingStats): Observable<ProbingExample> {
  return probingRecords(src).pipe(
    map((r) => ({ r, label: answerId(tok, r.object, setup.answer) })),
    filter((x): x is { r: ProbingRecord; label: number } => {
      if (x.label === null && stats) stats.multiToken++;
      return x.label !== null;
    }),
    map(({ r, label }) => ({ ...applyTemplate(setup.template, slots(r), tok, { maxLength, virtualTokens: setup.virtualTokens, answer: setup.answer }), label })),
  );
}

function slots(r: ProbingRecord): Record<string, string> {
  const at = r.sentence.indexOf('[MASK]');
  if (at < 0) throw new Error(`probing: sentence ${JSON.stringify(r.sentence)} (subject ${JSON.stringify(r.subject)}) has no [MASK]`);
  return { subject: r.subject, before: r.sentence.slice(0, at), after: r.sentence.slice(at + '[MASK]'.length) };
}

/** The graph's feeds for a batch (`label` [B]; no token_type_ids for GPT-2). */
export function probingFeeds(rows: readonly ProbingExample[], bert: boolean): Record<string, HostTensor> {
  const feeds = templateFeeds(rows);
  if (!bert) delete feeds.token_type_ids;
  return { ...feeds, label: hostTensor([rows.length], 'i32', rows.map((r) => r.label)) };
}
