// Evaluating ner (entity-level micro F1 of the word-level tags read off `head.logits` at each
// word's first piece) and probing (precision@1: the argmax of the verbalizer's `label_logits`
// over the vocabulary against the answer token) by the compiled forward graph.

import { lastValueFrom, toArray } from 'rxjs';
import type { ParamStore } from '../ops/index.js';
import { padExamples } from './data/index.js';
import { accuracy, entityF1 } from './metrics/index.js';
import { HEAD_LABELS, HEAD_LOGITS, modelFeeds, type LoadedModel } from './run.js';
import type { ExecutorKind } from './runner.js';
import { argmax, fixedBatches, forwardRunner } from './forward.js';
import { nerExample, nerLabels, nerRecords } from './tasks/ner.js';
import { probingExamples, probingFeeds, probingSetup, type ProbingStats } from './tasks/probing.js';
import type { EvalResult } from './evaluate.js';
import type { RunSpec } from './spec.js';

export async function evaluateNer(spec: RunSpec, model: LoadedModel, trained: ParamStore, executor: ExecutorKind): Promise<EvalResult> {
  const task = spec.task;
  if (task.kind !== 'ner') throw new Error('unreachable');
  const { batchSize, maxLength } = spec.training;
  const labels = nerLabels(task);
  const records = (await lastValueFrom(nerRecords(task.eval, labels).pipe(toArray()))).slice(0, spec.evaluation?.maxExamples);
  const examples = records.map((r) => nerExample(model.tokenizer, r, labels, maxLength));
  const pad = model.tokenizer.specialTokens.pad ?? model.tokenizer.specialTokens.eos ?? 0;
  const runner = await forwardRunner(spec, model, trained, executor);
  const pred: string[][] = [];
  try {
    for (const { rows, real } of fixedBatches(examples, batchSize)) {
      const b = padExamples(rows, { padId: pad, maxLength, padTo: 'maxLength' });
      const logits = (await runner.runner.run({ ...modelFeeds(model, b), [HEAD_LABELS]: b.labels! }, [HEAD_LOGITS])).get(HEAD_LOGITS)!;
      const [, S, C] = logits.shape;
      // Words cut by maxLength are predicted O.
      for (let r = 0; r < real; r++) pred.push(rows[r].wordStarts.map((p) => (p < 0 ? 'O' : labels[argmax(logits.data, (r * S + p) * C, C)])));
    }
  } finally {
    runner.release();
  }
  const scores = entityF1(pred, records.map((r) => r.tags));
  return { task: task.kind, examples: records.length, metrics: { f1: scores.f1, precision: scores.precision, recall: scores.recall } };
}

export async function evaluateProbing(spec: RunSpec, model: LoadedModel, trained: ParamStore, executor: ExecutorKind): Promise<EvalResult> {
  const task = spec.task;
  if (task.kind !== 'probing') throw new Error('unreachable');
  const { batchSize, maxLength } = spec.training;
  const stats: ProbingStats = { multiToken: 0 };
  const setup = probingSetup(spec, model.tokenizer);
  const examples = (await lastValueFrom(probingExamples(task.eval, model.tokenizer, setup, maxLength, stats).pipe(toArray()))).slice(0, spec.evaluation?.maxExamples);
  const runner = await forwardRunner(spec, model, trained, executor);
  const pred: number[] = [];
  try {
    for (const { rows, real } of fixedBatches(examples, batchSize)) {
      const logits = (await runner.runner.run(probingFeeds(rows, model.config.kind === 'bert'), ['label_logits'])).get('label_logits')!;
      const V = logits.shape[1];
      for (let r = 0; r < real; r++) pred.push(argmax(logits.data, r * V, V));
    }
  } finally {
    runner.release();
  }
  const notes = stats.multiToken ? [`${stats.multiToken} eval records skipped: their answer is more than one token`] : [];
  return { task: task.kind, examples: examples.length, metrics: { precisionAt1: accuracy(pred, examples.map((e) => e.label)) }, notes, skipped: stats.multiToken };
}
