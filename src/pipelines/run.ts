// Running a spec: load the backbone, apply the methods, stream the task's data through the
// training loop on the chosen executor, evaluate, and write the run's outputs (metrics log,
// loss curve, trained parameters). Everything is reported as typed events.

import { Observable, map } from 'rxjs';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Graph } from '../graph/index.js';
import { initParams, hostTensor, type Feeds, type ParamStore } from '../ops/index.js';
import { buildBackbone, loadTokenizer, type ModelConfig, type Tokenizer, writeSafetensors } from '../models/index.js';
import { compose, PREFIX, type MethodResult } from '../methods/index.js';
import { prefixFromActivations } from './prefix-init.js';
import { loadModel as loadBackbone } from './model.js';
import { adamState } from '../passes/optimizer.js';
import { batch, seededShuffle, padExamples, type PaddedBatch } from './data/index.js';
import { trainLoop } from './train/loop.js';
import { loadTrainingState } from './train/state.js';
import type { TrainEvent } from './train/events.js';
import { createRunner, type Runner } from './runner.js';
import { specHash, type RunSpec } from './spec.js';
import { lmExample, seq2seqExample } from './tasks/examples.js';
import { tableToTextPairs, textLines } from './tasks/sources.js';
import { classificationExample, classificationRecords } from './tasks/classification.js';
import { nerExample, nerLabels, nerRecords } from './tasks/ner.js';
import { probingExamples, probingFeeds, probingSetup } from './tasks/probing.js';

/** The classification head's label input and logits output (the head transform's default name). */
export const HEAD_LABELS = 'head.labels';
export const HEAD_LOGITS = 'head.logits';

export const BUNDLED_MODELS = fileURLToPath(new URL('../../../models/', import.meta.url));

export interface LoadedModel {
  readonly config: ModelConfig;
  readonly weights: ParamStore;
  readonly tokenizer: Tokenizer;
  readonly dir: string;
}

export async function loadModel(spec: RunSpec['model']): Promise<LoadedModel> {
  const dir = 'dir' in spec ? spec.dir : join(BUNDLED_MODELS, spec.bundled);
  const { config, weights } = await loadBackbone({ kind: 'checkpoint', dir });
  return { config, weights, tokenizer: await loadTokenizer(dir), dir };
}

export interface Prepared {
  readonly model: LoadedModel;
  readonly method: MethodResult;
  readonly params: ParamStore;
}

/** The backbone graph for [batch, maxLength] with the spec's methods applied, and its parameters. */
export function prepare(spec: RunSpec, model: LoadedModel, shape: { batch: number; seq: number }, labels = true): Prepared {
  const graph = buildBackbone(model.config, { batch: shape.batch, seq: shape.seq, labels: labels && (spec.task.kind === 'lm' || spec.task.kind === 'table-to-text') });
  const method = withMethods(graph, specMethods(spec));
  const params = initParams(method.graph, spec.training.seed ?? 0, model.weights);
  for (const m of spec.methods ?? []) {
    const text = (m as { initText?: unknown }).initText;
    if (typeof text !== 'string') continue;
    // Prefix from the LM's own activations on real words (the paper's better init).
    const ids = model.tokenizer.encode(text);
    const length = Number((m as { length?: unknown }).length);
    if (ids.length !== length) throw new Error(`${String(m.method)}: initText "${text}" is ${ids.length} tokens, length is ${length}`);
    params.set(PREFIX.direct, prefixFromActivations(model.config, model.weights, ids));
  }
  return { model, method, params };
}

/**
 * The spec's methods, then the task's own: classification a sequence-classification head, ner a
 * token-classification head, probing a whole-vocabulary verbalizer.
 */
export function specMethods(spec: RunSpec): unknown[] {
  const methods: unknown[] = [...(spec.methods ?? [])];
  const task = spec.task;
  if (task.kind === 'classification') methods.push({ method: 'head', task: 'sequence-classification', labels: task.labels });
  if (task.kind === 'ner') methods.push({ method: 'head', task: 'token-classification', labels: nerLabels(task).length });
  if (task.kind === 'probing') {
    if (!methods.some((m) => (m as { method?: unknown }).method === 'p-tuning')) throw new Error(`task 'probing' needs a 'p-tuning' method in the spec's methods (it fills the template's virtual tokens)`);
    methods.push({ method: 'verbalizer', vocabulary: true });
  }
  return methods;
}

/** Inputs of the model for a padded batch (BERT also gets token_type_ids, all segment 0). */
export function modelFeeds(model: LoadedModel, b: PaddedBatch<unknown>): Record<string, Feeds[string]> {
  const feeds: Record<string, Feeds[string]> = { input_ids: b.input_ids, attention_mask: b.attention_mask };
  if (model.config.kind === 'bert') feeds.token_type_ids = hostTensor(b.input_ids.shape, 'i32', new Int32Array(b.input_ids.data.length));
  return feeds;
}

function withMethods(graph: Graph, specs: readonly unknown[]): MethodResult {
  if (specs.length === 0) return { graph, trainable: [], inputPositions: 0, keyPositions: 0, positionPolicy: 'not-applicable', notes: [] };
  return compose(graph, specs);
}

/** One epoch of training batches for the spec's task (fixed shapes: [batchSize, maxLength]). */
export function trainingBatches(spec: RunSpec, model: LoadedModel, epoch: number): Observable<Feeds> {
  const tok = model.tokenizer;
  const { batchSize, maxLength, seed = 0 } = spec.training;
  const task = spec.task;
  const pad = tok.specialTokens.pad ?? tok.specialTokens.eos ?? 0;
  if (task.kind === 'ner') {
    const labels = nerLabels(task);
    return nerRecords(task.train, labels).pipe(
      map((r) => nerExample(tok, r, labels, maxLength)),
      seededShuffle(1024, seed * 7919 + epoch),
      batch(batchSize, { dropLast: true }),
      map((rows) => {
        const b = padExamples(rows, { padId: pad, maxLength, padTo: 'maxLength' });
        return { ...modelFeeds(model, b), [HEAD_LABELS]: b.labels! } as Feeds;
      }),
    );
  }
  if (task.kind === 'probing') {
    const setup = probingSetup(spec, tok);
    return probingExamples(task.train, tok, setup, maxLength).pipe(
      seededShuffle(1024, seed * 7919 + epoch),
      batch(batchSize, { dropLast: true }),
      map((rows) => probingFeeds(rows, model.config.kind === 'bert') as Feeds),
    );
  }
  if (task.kind === 'classification') {
    return classificationRecords(task.train, task.labels).pipe(
      map((r) => classificationExample(tok, r, maxLength)),
      seededShuffle(1024, seed * 7919 + epoch),
      batch(batchSize, { dropLast: true }),
      map((rows) => {
        const b = padExamples(rows, { padId: pad, maxLength, padTo: 'maxLength' });
        return { ...modelFeeds(model, b), [HEAD_LABELS]: b.labels! } as Feeds;
      }),
    );
  }
  const examples = task.kind === 'lm'
    ? textLines(task.train).pipe(map((line) => lmExample(tok, line, maxLength)))
    : tableToTextPairs(task.train).pipe(map((p) => seq2seqExample(tok, p.mr, p.ref, task.separator ?? ' =', maxLength)));
  return examples.pipe(
    seededShuffle(1024, seed * 7919 + epoch),
    batch(batchSize, { dropLast: true }),
    map((rows) => {
      const b = padExamples(rows, { padId: pad, maxLength, padTo: 'maxLength' });
      return { ...modelFeeds(model, b), labels: b.labels! } as Feeds;
    }),
  );
}

export interface TrainRunOptions {
  readonly resume?: boolean;
  readonly signal?: AbortSignal;
  /** Total steps when the spec gives epochs (used for the schedule); estimated when absent. */
  readonly stepsPerEpoch?: number;
}

export interface TrainRun {
  readonly events: Observable<TrainEvent>;
  readonly prepared: Prepared;
  readonly runner: Runner;
  readonly outDir: string;
}

/** Sets up a training run; subscribe to `events` to run it. */
export async function startTraining(spec: RunSpec, opts: TrainRunOptions = {}): Promise<TrainRun> {
  const model = await loadModel(spec.model);
  const { batchSize, maxLength } = spec.training;
  const prepared = prepare(spec, model, { batch: batchSize, seq: maxLength });
  const trainable = prepared.method.trainable.length ? prepared.method.trainable : prepared.method.graph.params().map((p) => String(p.attrs.name));
  const optimizer = spec.training.optimizer ?? {};
  const runner = await createRunner(spec.executor ?? 'webgpu', prepared.method.graph, { train: true, trainable, optimizer, frozenStorage: spec.training.frozenStorage }, prepared.params);
  const outDir = spec.output?.dir ?? join('runs', spec.name);
  await mkdir(outDir, { recursive: true });
  const hash = specHash(spec);
  const checkpointDir = join(outDir, 'checkpoint');
  const resume = opts.resume ? await loadTrainingState(checkpointDir) : null;
  if (resume && resume.specHash !== hash) throw new Error(`cannot resume ${checkpointDir}: it was written by a different spec (hash ${resume.specHash}, now ${hash})`);
  const epochs = spec.training.epochs ?? 1;
  const stepsPerEpoch = opts.stepsPerEpoch ?? 100;
  const totalSteps = Math.min(spec.training.maxSteps ?? Infinity, epochs * stepsPerEpoch);
  const events = trainLoop({
    runner: runner.runner, batches: (epoch) => trainingBatches(spec, model, epoch), epochs, maxSteps: spec.training.maxSteps,
    totalSteps, lr: spec.training.lr, schedule: spec.training.schedule ?? { kind: 'constant' }, optimizer, trainable,
    stateNames: trainable.flatMap((n) => [n, adamState(n, 'm'), adamState(n, 'v')]), logEvery: spec.training.logEvery ?? 10,
    checkpoint: { dir: checkpointDir, every: spec.training.checkpointEvery ?? 50, specHash: hash }, resume: resume ?? undefined,
    signal: opts.signal, device: runner.device, deviceBytes: runner.compiled.plan.peakBytes, seed: spec.training.seed ?? 0,
  });
  return { events, prepared: { ...prepared, method: { ...prepared.method, trainable } }, runner, outDir };
}

/** Writes the trained parameters (the method's trainable ones) next to the run. */
export async function saveTrained(run: TrainRun, read?: ParamStore): Promise<string> {
  const params = read ?? await run.runner.runner.readParams(run.prepared.method.trainable);
  const path = join(run.outDir, 'trained.safetensors');
  await writeSafetensors(path, params, { spec: 'see spec.json' });
  return path;
}
