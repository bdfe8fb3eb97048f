// The declarative run spec: one JSON document describes model, method(s), task and data,
// training, evaluation and outputs. Decoding names the JSON path, the value and the form
// expected; `specBuilder` produces the same document from TypeScript.

import * as t from 'io-ts';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { decodeOrThrow } from '../util/decode.js';
import { MethodSpecCodec, type MethodSpec } from '../methods/method.js';
import { ScheduleCodec } from '../passes/schedule.js';

const PositiveInt = t.refinement(t.Int, (n) => n > 0, 'positive integer');
const PositiveNumber = t.refinement(t.number, (n) => n > 0, 'positive number');

export const ModelSourceCodec = t.union([
  t.type({ dir: t.string }),
  t.type({ bundled: t.keyof({ 'gpt2-world': null, 'bert-world': null }) }),
], 'model ({dir} or {bundled: gpt2-world|bert-world})');

export const DataSourceCodec = t.union([
  t.type({ format: t.keyof({ 'e2e-csv': null, text: null, jsonl: null, conll: null, lama: null }), path: t.string }),
  t.intersection([t.type({ format: t.literal('world'), split: t.keyof({ train: null, dev: null, test: null }) }), t.partial({ seed: t.Int, limit: PositiveInt, task: t.keyof({ sentiment: null, topic: null }) })]),
], 'data source ({format, path} or {format: world, split})');

export const TaskCodec = t.union([
  t.type({ kind: t.literal('lm'), train: DataSourceCodec }),
  t.intersection([
    t.type({ kind: t.literal('table-to-text'), train: DataSourceCodec, eval: DataSourceCodec }),
    t.partial({ separator: t.string, manualPrompt: t.string }),
  ]),
  // Sentence classification: records {sentence, label}; training adds a sequence-classification head.
  t.type({ kind: t.literal('classification'), train: DataSourceCodec, eval: DataSourceCodec, labels: PositiveInt }),
  // Named-entity recognition (BIO tags per word): training adds a token-classification head.
  // `labels` fixes the tag set (default: NER_LABELS for world data, the sorted tags of CoNLL files).
  t.intersection([
    t.type({ kind: t.literal('ner'), train: DataSourceCodec, eval: DataSourceCodec }),
    t.partial({ labels: t.array(t.string) }),
  ]),
  // LAMA-style knowledge probing with P-tuning: the answer token read off the LM at [MASK] (a vocabulary verbalizer).
  t.intersection([
    t.type({ kind: t.literal('probing'), train: DataSourceCodec, eval: DataSourceCodec }),
    t.partial({ template: t.string, virtualTokens: PositiveInt }),
  ]),
], 'task');

export const TrainingCodec = t.intersection([
  t.type({ lr: PositiveNumber, batchSize: PositiveInt, maxLength: PositiveInt }),
  t.partial({
    epochs: PositiveInt, maxSteps: t.Int, seed: t.Int, schedule: ScheduleCodec, logEvery: PositiveInt, checkpointEvery: PositiveInt,
    optimizer: t.partial({ weightDecay: t.number, clipNorm: PositiveNumber, beta1: t.number, beta2: t.number, eps: PositiveNumber }),
    /** Frozen weights on the device as f16 (half the memory; arithmetic stays f32; needs shader-f16). */
    frozenStorage: t.keyof({ f32: null, f16: null }),
  }),
], 'training');

export const EvaluationCodec = t.partial({
  maxExamples: PositiveInt,
  maxNewTokens: PositiveInt,
  beams: PositiveInt,
}, 'evaluation');

export const RunSpecCodec = t.intersection([
  t.type({ name: t.string, model: ModelSourceCodec, task: TaskCodec, training: TrainingCodec }),
  t.partial({ methods: t.array(MethodSpecCodec), evaluation: EvaluationCodec, output: t.partial({ dir: t.string }), executor: t.keyof({ webgpu: null, cpu: null }) }),
], 'run spec');

export type RunSpec = t.TypeOf<typeof RunSpecCodec>;
export type TaskSpec = t.TypeOf<typeof TaskCodec>;
export type DataSource = t.TypeOf<typeof DataSourceCodec>;

export function parseSpec(json: unknown, what = 'spec'): RunSpec {
  return decodeOrThrow(RunSpecCodec, json, what);
}

/** Reads and validates a spec file; every error names the file. */
export async function readSpecFile(file: string): Promise<RunSpec> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  return parseSpec(json, file);
}

/** Fingerprint of what determines a run's numbers (resuming under another spec is refused). */
export function specHash(spec: RunSpec): string {
  const { output: _o, executor: _e, ...rest } = spec;
  const t2 = { ...rest, training: { ...rest.training, logEvery: undefined, checkpointEvery: undefined, maxSteps: undefined } };
  return createHash('sha256').update(JSON.stringify(t2)).digest('hex').slice(0, 16);
}

/** A typed builder producing the same document as a JSON spec. */
export function specBuilder(name: string) {
  // The builder takes the JSON forms (plain numbers where the codec brands integers).
  type Json = t.OutputOf<typeof RunSpecCodec>;
  const spec: { -readonly [K in keyof Json]?: Json[K] } & { name: string } = { name };
  const api = {
    model(m: Json['model']) { spec.model = m; return api; },
    method(m: MethodSpec) { spec.methods = [...(spec.methods ?? []), m]; return api; },
    task(task: t.OutputOf<typeof TaskCodec>) { spec.task = task; return api; },
    training(tr: Json['training']) { spec.training = tr; return api; },
    evaluation(e: NonNullable<Json['evaluation']>) { spec.evaluation = e; return api; },
    output(dir: string) { spec.output = { dir }; return api; },
    executor(e: 'webgpu' | 'cpu') { spec.executor = e; return api; },
    /** Validates like a JSON spec. */
    build(): RunSpec { return parseSpec(JSON.parse(JSON.stringify(spec)), `spec '${name}'`); },
  };
  return api;
}
