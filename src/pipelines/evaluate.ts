// Evaluating a run on its task's eval split: classification by the compiled forward graph
// (accuracy, macro-F1; ner and probing: evaluate-tasks.ts), table-to-text by greedy (or beam) generation (BLEU, ROUGE-L).

import { from, map, type Observable } from 'rxjs';
import type { TrainEvent } from './train/events.js';
import { lastValueFrom, toArray } from 'rxjs';
import type { ParamStore } from '../ops/index.js';
import type { MethodSpec } from '../methods/index.js';
import { padExamples } from './data/index.js';
import { accuracy, corpusBleu, macroF1, rougeL } from './metrics/index.js';
import { HEAD_LABELS, HEAD_LOGITS, loadModel, modelFeeds, type LoadedModel } from './run.js';
import { sharedGpu, type ExecutorKind } from './runner.js';
import { argmax, forwardRunner } from './forward.js';
import { evaluateNer, evaluateProbing } from './evaluate-tasks.js';
import { Generator, type GenerateOptions } from './generate/generate.js';
import { promptIds } from './tasks/examples.js';
import { tableToTextRecords } from './tasks/sources.js';
import { classificationExample, classificationRecords } from './tasks/classification.js';
import type { RunSpec } from './spec.js';

export interface EvalResult {
  readonly task: RunSpec['task']['kind'];
  readonly examples: number;
  /** Fractions in [0, 1]. */
  readonly metrics: Readonly<Record<string, number>>;
  /** A few generations (table-to-text). */
  readonly samples?: readonly { source: string; output: string }[];
  /** What the evaluation left out and why (probing: multi-token answers). */
  readonly notes?: readonly string[];
  /** Eval records left out (probing: multi-token answers). */
  readonly skipped?: number;
}

/** Metrics of the spec's model + methods with `trained` parameters (a run's trained.safetensors) on the eval split. */
export async function evaluateRun(spec: RunSpec, trained: ParamStore = new Map()): Promise<EvalResult> {
  const model = await loadModel(spec.model);
  const task = spec.task;
  const executor = spec.executor ?? 'webgpu';
  if (task.kind === 'classification') return evaluateClassification(spec, model, trained, executor);
  if (task.kind === 'ner') return evaluateNer(spec, model, trained, executor);
  if (task.kind === 'probing') return evaluateProbing(spec, model, trained, executor);
  if (task.kind === 'table-to-text') {
    const methods = spec.methods ?? [];
    const records = (await tableToTextRecords(task.eval)).slice(0, spec.evaluation?.maxExamples);
    const weights: ParamStore = new Map([...model.weights, ...trained]);
    const beams = spec.evaluation?.beams ?? 1;
    const outputs = await generateTexts(model, weights, methods, records.map((r) => promptIds(model.tokenizer, r.mr, task.separator ?? ' =')), executor,
      { ...(beams > 1 ? { strategy: 'beam', beams } : { strategy: 'greedy' }), maxNewTokens: spec.evaluation?.maxNewTokens ?? 40 });
    const refs = records.map((r) => r.references);
    return {
      task: task.kind, examples: records.length,
      metrics: { bleu: corpusBleu(outputs, refs).score, rougeL: rougeL(outputs, refs).f1 },
      samples: records.slice(0, 3).map((r, i) => ({ source: r.mr, output: outputs[i] })),
    };
  }
  throw new Error(`evaluate: task '${task.kind}' has no eval split`);
}

async function evaluateClassification(spec: RunSpec, model: LoadedModel, trained: ParamStore, executor: ExecutorKind): Promise<EvalResult> {
  const task = spec.task;
  if (task.kind !== 'classification') throw new Error('unreachable');
  const { batchSize, maxLength } = spec.training;
  const runner = await forwardRunner(spec, model, trained, executor);
  let records = await lastValueFrom(classificationRecords(task.eval, task.labels).pipe(toArray()));
  records = records.slice(0, spec.evaluation?.maxExamples);
  const pad = model.tokenizer.specialTokens.pad ?? model.tokenizer.specialTokens.eos ?? 0;
  const pred: number[] = [];
  try {
    for (let i = 0; i < records.length; i += batchSize) {
      const rows = records.slice(i, i + batchSize).map((r) => classificationExample(model.tokenizer, r, maxLength));
      const real = rows.length;
      // The graph has a fixed batch: fill the last one with copies of its first row.
      while (rows.length < batchSize) rows.push(rows[0]);
      const b = padExamples(rows, { padId: pad, maxLength, padTo: 'maxLength' });
      const out = await runner.runner.run({ ...modelFeeds(model, b), [HEAD_LABELS]: b.labels! }, [HEAD_LOGITS]);
      const logits = out.get(HEAD_LOGITS)!;
      const C = logits.shape[1];
      for (let r = 0; r < real; r++) pred.push(argmax(logits.data, r * C, C));
    }
  } finally {
    runner.release();
  }
  const gold = records.map((r) => r.label);
  return { task: task.kind, examples: records.length, metrics: { accuracy: accuracy(pred, gold), macroF1: macroF1(pred, gold) } };
}

/** Generated continuations (decoded, trimmed) of token prompts, 8 at a time; shared with the demo. */
export async function generateTexts(model: LoadedModel, weights: ParamStore, methods: readonly MethodSpec[], prompts: readonly (readonly number[])[],
  executor: ExecutorKind, opts: GenerateOptions = { strategy: 'greedy', maxNewTokens: 40 }): Promise<string[]> {
  const ctx = executor === 'webgpu' ? await sharedGpu() : undefined;
  const gen = await Generator.create({ config: model.config, weights, methods }, { device: executor, ...(ctx ? { ctx } : {}) });
  const out: string[] = [];
  const eos = model.config.kind === 'gpt2' ? model.config.eosTokenId : undefined;
  try {
    const rows = 8;
    for (let i = 0; i < prompts.length; i += rows) {
      const r = await gen.generate(prompts.slice(i, i + rows), opts);
      // The end-of-sequence token ends the text; it is not part of it.
      out.push(...r.tokens.map((t) => model.tokenizer.decode(eos === undefined || !t.includes(eos) ? t : t.slice(0, t.indexOf(eos))).trim()));
    }
  } finally {
    gen.release();
  }
  return out;
}

/** A small aligned table of metrics (as percentages). */
export function formatMetrics(r: EvalResult): string {
  const rows = Object.entries(r.metrics).map(([k, v]) => [k, (100 * v).toFixed(2)]);
  const w0 = Math.max(6, ...rows.map((x) => x[0].length)), w1 = Math.max(5, ...rows.map((x) => x[1].length));
  return [`${'metric'.padEnd(w0)}  ${'score'.padStart(w1)}`, `${'-'.repeat(w0)}  ${'-'.repeat(w1)}`, ...rows.map(([k, v]) => `${k.padEnd(w0)}  ${v.padStart(w1)}`)].join('\n');
}

/** Evaluation as the same typed events training reports: one `eval` event, then complete. */
export function evaluationEvents(spec: RunSpec, trained: ParamStore, step: number): Observable<TrainEvent> {
  return from(evaluateRun(spec, trained)).pipe(map((r): TrainEvent => ({ type: 'eval', step, metrics: r.metrics })));
}
