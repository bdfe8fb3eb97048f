// Classification runs (spec task kind 'classification'), evaluateRun, and the eval / generate commands.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { specBuilder, type RunSpec } from '../src/pipelines/spec.js';
import { saveTrained, startTraining } from '../src/pipelines/run.js';
import { evaluateRun } from '../src/pipelines/evaluate.js';
import { releaseSharedGpu } from '../src/pipelines/runner.js';
import { classificationRecords } from '../src/pipelines/tasks/classification.js';
import { readSafetensors } from '../src/models/index.js';
import { runCli, show, ROOT } from './cli-run.js';

function sentimentSpec(dir: string): RunSpec {
  return specBuilder('eval-test')
    .model({ bundled: 'bert-world' })
    .method({ method: 'p-tuning-v2', length: 4 })
    .task({ kind: 'classification', labels: 2,
      train: { format: 'world', split: 'train', task: 'sentiment', limit: 64 },
      eval: { format: 'world', split: 'test', task: 'sentiment', limit: 16 } })
    .training({ lr: 0.01, batchSize: 4, maxLength: 24, epochs: 1, maxSteps: 10, logEvery: 5, checkpointEvery: 100, seed: 1 })
    .evaluation({ maxExamples: 16 })
    .output(dir)
    .executor('webgpu')
    .build();
}

describe('pipelines: classification runs and evaluation', () => {
  let dir: string;
  let spec: RunSpec;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'pg-eval-')); spec = sentimentSpec(join(dir, 'run')); });
  after(async () => { rmSync(dir, { recursive: true, force: true }); await releaseSharedGpu(); });

  it('trains a p-tuning-v2 + head spec on bert-world and evaluates accuracy and macro-F1', async () => {
    const run = await startTraining(spec);
    const events = await lastValueFrom(run.events.pipe(toArray()));
    const losses = events.flatMap((e) => (e.type === 'step' && e.loss !== null ? [e.loss] : []));
    expect(losses.length).to.be.greaterThan(0);
    expect(losses.every(Number.isFinite)).to.equal(true);
    expect(run.prepared.method.trainable).to.include.members(['head.dense.weight', 'head.dense.bias']);
    const path = await saveTrained(run);
    run.runner.release();
    const result = await evaluateRun(spec, (await readSafetensors(path)).tensors);
    expect(result).to.include({ task: 'classification', examples: 16 });
    expect(result.metrics.accuracy).to.be.within(0, 1);
    expect(result.metrics.macroF1).to.be.within(0, 1);
  });

  it('`eval SPEC.json` prints the metrics and writes RUN/eval.json', async () => {
    const specFile = join(dir, 'spec.json');
    writeFileSync(specFile, JSON.stringify(spec));
    const r = await runCli(['eval', specFile, '--params', join(dir, 'run', 'trained.safetensors')]);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.match(/accuracy\s+\d+\.\d\d/).and.match(/macroF1\s+\d+\.\d\d/);
    const written = JSON.parse(readFileSync(join(dir, 'run', 'eval.json'), 'utf8'));
    expect(written.metrics.accuracy).to.be.within(0, 1);
  });

  it('`generate` continues a prompt with models/gpt2-world', async () => {
    const r = await runCli(['generate', '--model', join(ROOT, 'models', 'gpt2-world'), '--prompt', 'The restaurant', '--max-new-tokens', '8']);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout.trim().length, show(r)).to.be.greaterThan(0);
    expect(existsSync(join(ROOT, 'models', 'gpt2-world'))).to.equal(true);
  });

  it('a bad JSONL classification line is reported as file:line', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"idx": 0, "sentence": "good food", "label": 1}\n{"idx": 1, "sentence": "bad", "label": "neg"}\n');
    const err = await lastValueFrom(classificationRecords({ format: 'jsonl', path: file }, 2).pipe(toArray())).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).to.include(`${file}:2`);
  });
});
