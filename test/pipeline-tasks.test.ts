// The ner and probing task kinds: short training runs on bert-world, evaluateRun, and file:line data errors.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { specBuilder, type RunSpec } from '../src/pipelines/spec.js';
import { saveTrained, startTraining } from '../src/pipelines/run.js';
import { evaluateRun } from '../src/pipelines/evaluate.js';
import { releaseSharedGpu } from '../src/pipelines/runner.js';
import { nerRecords } from '../src/pipelines/tasks/ner.js';
import { probingRecords } from '../src/pipelines/tasks/probing.js';
import { NER_LABELS } from '../src/pipelines/world/index.js';
import { readSafetensors } from '../src/models/index.js';

const TRAINING = { lr: 0.01, batchSize: 4, maxLength: 24, epochs: 1, maxSteps: 8, logEvery: 4, checkpointEvery: 100, seed: 1 };

function nerSpec(dir: string): RunSpec {
  return specBuilder('ner-test').model({ bundled: 'bert-world' }).method({ method: 'p-tuning-v2', length: 4 })
    .task({ kind: 'ner', train: { format: 'world', split: 'train', limit: 32 }, eval: { format: 'world', split: 'test', limit: 8 } })
    .training(TRAINING).evaluation({ maxExamples: 8 }).output(dir).executor('webgpu').build();
}

function probingSpec(dir: string): RunSpec {
  return specBuilder('probing-test').model({ bundled: 'bert-world' }).method({ method: 'p-tuning', virtualTokens: 3 })
    .task({ kind: 'probing', train: { format: 'world', split: 'train', limit: 32 }, eval: { format: 'world', split: 'test', limit: 8 } })
    .training(TRAINING).evaluation({ maxExamples: 8 }).output(dir).executor('webgpu').build();
}

async function trainAndEvaluate(spec: RunSpec) {
  const run = await startTraining(spec);
  const events = await lastValueFrom(run.events.pipe(toArray()));
  const losses = events.flatMap((e) => (e.type === 'step' && e.loss !== null ? [e.loss] : []));
  expect(losses.length).to.be.greaterThan(0);
  expect(losses.every(Number.isFinite)).to.equal(true);
  const path = await saveTrained(run);
  run.runner.release();
  return evaluateRun(spec, (await readSafetensors(path)).tensors);
}

describe('pipelines: ner and probing tasks', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'pg-tasks-')); });
  after(async () => { rmSync(dir, { recursive: true, force: true }); await releaseSharedGpu(); });

  it('ner: p-tuning-v2 + token-classification head trains and reports entity F1', async () => {
    const result = await trainAndEvaluate(nerSpec(join(dir, 'ner')));
    expect(result).to.include({ task: 'ner', examples: 8 });
    expect(result.metrics.f1).to.be.within(0, 1);
  });

  it('probing: p-tuning + vocabulary verbalizer trains and reports precision@1', async () => {
    const result = await trainAndEvaluate(probingSpec(join(dir, 'probing')));
    expect(result.task).to.equal('probing');
    expect(result.examples).to.be.greaterThan(0);
    expect(result.metrics.precisionAt1).to.be.within(0, 1);
  });

  it('probing without a p-tuning method is an error', async () => {
    const spec = { ...probingSpec(join(dir, 'x')), methods: [] };
    const err = await evaluateRun(spec).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).to.match(/needs a 'p-tuning' method/);
  });

  it('a CoNLL file with a bad tag sequence is reported as file:line', async () => {
    const file = join(dir, 'bad.conll');
    writeFileSync(file, '-DOCSTART- -X- -X- O\n\nAnna X O B-PER\nlives X O O\nin X O I-LOC\n');
    const err = await lastValueFrom(nerRecords({ format: 'conll', path: file }, NER_LABELS).pipe(toArray())).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).to.include(`${file}:5`).and.include('I-LOC');
  });

  it('a LAMA line missing obj_label is reported as file:line and JSON path', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"sub_label": "Anna", "obj_label": "Paris", "masked_sentences": ["Anna lives in [MASK] ."]}\n{"sub_label": "Bo", "masked_sentences": ["Bo lives in [MASK] ."]}\n');
    const err = await lastValueFrom(probingRecords({ format: 'lama', path: file }).pipe(toArray())).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).to.include(`${file}:2`).and.include('obj_label');
  });
});
