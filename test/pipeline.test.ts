import { expect } from 'chai';
import { mkdtempSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { parseSpec, specBuilder, type RunSpec } from '../src/pipelines/spec.js';
import { startTraining } from '../src/pipelines/run.js';
import { loadTrainingState, LATEST } from '../src/pipelines/train/state.js';
import { TrainingDivergedError, type TrainEvent } from '../src/pipelines/train/events.js';
import { releaseSharedGpu } from '../src/pipelines/runner.js';
import { DecodeError, GraphBuilder, compile, CpuProgram, initParams } from '../src/index.js';
import { trainLoop } from '../src/pipelines/train/loop.js';
import { fromArray } from '../src/pipelines/data/index.js';

function lmSpec(dir: string, steps: number, extra: Partial<{ lr: number; every: number }> = {}): RunSpec {
  return specBuilder('pipeline-test')
    .model({ bundled: 'gpt2-world' })
    .method({ method: 'prompt-tuning', length: 2 })
    .task({ kind: 'lm', train: { format: 'world', split: 'train', limit: 64 } })
    .training({ lr: extra.lr ?? 0.05, batchSize: 2, maxLength: 12, epochs: 1, maxSteps: steps, logEvery: 1, checkpointEvery: extra.every ?? 2, seed: 3 })
    .output(dir)
    .executor('webgpu')
    .build();
}

async function losses(spec: RunSpec, resume = false): Promise<{ events: TrainEvent[]; losses: number[] }> {
  const run = await startTraining(spec, { resume });
  try {
    const events = await lastValueFrom(run.events.pipe(toArray()));
    return { events, losses: events.flatMap((e) => (e.type === 'step' && e.loss !== null ? [e.loss] : [])) };
  } finally {
    run.runner.release();
  }
}

describe('pipelines: specs, training runs, checkpoints', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pg-run-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  after(() => releaseSharedGpu());

  it('rejects a bad spec naming the JSON path, the value and the expected form', () => {
    const good = JSON.parse(JSON.stringify(lmSpec('x', 1)));
    expect(() => parseSpec({ ...good, training: { ...good.training, batchSize: 0 } }, 'spec.json')).to.throw(DecodeError, /spec\.json: at \$\.training\.batchSize: expected positive integer, got 0/);
    expect(() => parseSpec({ ...good, model: { bundled: 'gpt5' } }, 'spec.json')).to.throw(DecodeError, /\$\.model/);
    const { task: _t, ...noTask } = good;
    expect(() => parseSpec(noTask, 'spec.json')).to.throw(DecodeError, /\$\.task: expected task, got nothing/);
  });

  it('the typed builder and a JSON spec are the same document', () => {
    const built = lmSpec('runs/x', 4);
    expect(parseSpec(JSON.parse(JSON.stringify(built)))).to.deep.equal(built);
  });

  it("training.frozenStorage 'f16' trains with half-size frozen weights: first loss within 1e-3 of f32 storage, later ones within 1e-2", async () => {
    const f32 = await losses(lmSpec(join(dir, 'f32'), 3));
    const spec = lmSpec(join(dir, 'f16'), 3);
    const half = await losses({ ...spec, training: { ...spec.training, frozenStorage: 'f16' } });
    expect(half.losses).to.have.length(3);
    // Weight rounding (rel. 2^-11) moves the first loss a little; updates at lr 0.05 then drift apart.
    half.losses.forEach((l, i) => expect(Math.abs(l - f32.losses[i]) / f32.losses[i], `step ${i + 1}: ${l} vs ${f32.losses[i]}`).to.be.below(i === 0 ? 1e-3 : 1e-2));
    expect(half.losses).not.to.deep.equal(f32.losses); // the f16 rounding is really there
  });

  it('a resumed run continues the same loss curve as an uninterrupted one', async () => {
    const full = await losses(lmSpec(join(dir, 'full'), 6));
    const first = await losses(lmSpec(join(dir, 'split'), 3));
    expect(first.losses).to.deep.equal(full.losses.slice(0, 3));
    const rest = await losses(lmSpec(join(dir, 'split'), 6), true);
    expect(rest.events[0]).to.include({ type: 'start', startStep: 3 });
    expect(rest.losses).to.deep.equal(full.losses.slice(3));
  });

  it('a half-written checkpoint (kill -9 during the write) leaves the previous one loadable', async () => {
    await losses(lmSpec(join(dir, 'r'), 4));
    const ckpt = join(dir, 'r', 'checkpoint');
    const before = await loadTrainingState(ckpt);
    expect(before?.step).to.equal(4);
    // What a kill -9 in the middle of the next save leaves: a truncated new state file and a
    // temp file next to latest.json, never a partial latest.json (it is replaced by rename).
    writeFileSync(join(ckpt, 'state-00000006.safetensors'), Buffer.alloc(100, 7));
    writeFileSync(join(ckpt, `${LATEST}.tmp-123-abc`), '{"format": "promptgraph.tr');
    const after = await loadTrainingState(ckpt);
    expect(after?.step).to.equal(4);
    expect([...after!.params.keys()].sort()).to.deep.equal([...before!.params.keys()].sort());
    expect(readdirSync(ckpt)).to.include('state-00000004.safetensors');
  });

  it('kill -9 of a process writing checkpoints never leaves an unloadable one', async () => {
    const ckpt = join(dir, 'kill');
    const script = join(dir, 'writer.mjs');
    const state = new URL('../src/pipelines/train/state.js', import.meta.url).href;
    // Writes checkpoints of ~8 MB in a loop; each holds one value repeated, so a torn mix is detectable.
    writeFileSync(script, `import { saveTrainingState } from '${state}';
      const n = 1 << 20;
      for (let step = 1; ; step++) {
        const t = { shape: [n], dtype: 'f32', data: new Float64Array(n).fill(step) };
        await saveTrainingState(${JSON.stringify(ckpt)}, { step, epoch: 0, data: { version: 1, delivered: step, sourceConsumed: step, shuffleRng: [] }, specHash: 'k', lastLoss: 1, params: new Map([['w', t]]) });
      }`);
    for (const delay of [400, 650, 900]) {
      const child = spawn(process.execPath, [script], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      const s = await loadTrainingState(ckpt);
      if (s === null) continue; // killed before the first checkpoint landed
      const w = s.params.get('w')!;
      expect(w.data.length).to.equal(1 << 20);
      expect(w.data.every((v) => v === s.step), `checkpoint ${s.step} holds only its own values`).to.equal(true);
    }
    expect(await loadTrainingState(ckpt), 'some checkpoint landed').to.not.equal(null);
  });

  it('a NaN loss stops the run with a clear message and keeps the last good checkpoint', async () => {
    // loss = sum(log w): minimizing it walks w down through 0, where the log turns NaN.
    const b = new GraphBuilder();
    const w = b.param('w', [3], { trainable: true, init: 'ones' });
    b.output('loss', b.sum(b.log(w), [0]));
    const compiled = compile(b.graph, { train: true, params: new Map() });
    const runner = new CpuProgram(compiled, initParams(compiled.graph, 0));
    const ckpt = join(dir, 'nan');
    const events: TrainEvent[] = [];
    const err = await lastValueFrom(trainLoop({
      runner, batches: () => fromArray(Array.from({ length: 30 }, () => ({}))), epochs: 1, totalSteps: 30, lr: 0.3,
      schedule: { kind: 'constant' }, optimizer: {}, trainable: ['w'], stateNames: ['w', 'optim.m.w', 'optim.v.w'],
      logEvery: 1, checkpoint: { dir: ckpt, every: 1, specHash: 'test' }, device: 'cpu',
    }).pipe(toArray())).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(TrainingDivergedError);
    expect(String((err as Error).message)).to.match(/loss became NaN at step (\d+) \(epoch 1\); the last good checkpoint is kept in .*nan/);
    const bad = Number(/at step (\d+)/.exec((err as Error).message)![1]);
    const state = await loadTrainingState(ckpt);
    // State after update bad-2 gave the finite loss of step bad-1; the one after update bad-1 is discarded.
    expect(state!.step).to.equal(bad - 2);
    expect(Array.from(state!.params.get('w')!.data).every((v) => v > 0), 'checkpointed w is still inside the log domain').to.equal(true);
    void events;
  });
});
