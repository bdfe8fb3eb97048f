import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runCli, show } from './cli-run.js';

function specFile(dir: string, steps: number): string {
  const spec = JSON.parse(readFileSync(join(ROOT, 'examples', 'lm-prompt-tuning.json'), 'utf8'));
  spec.training = { ...spec.training, maxSteps: steps, logEvery: 1, checkpointEvery: 1, batchSize: 2, maxLength: 16 };
  spec.output = { dir: join(dir, 'run') };
  const path = join(dir, 'spec.json');
  writeFileSync(path, JSON.stringify(spec));
  return path;
}

describe('CLI train', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pg-train-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('trains a spec and writes metrics.jsonl, loss.svg, a checkpoint and the trained parameters', async () => {
    const r = await runCli(['train', specFile(dir, 3)], 300_000);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.match(/trained lm-prompt-tuning: 3 steps/);
    const events = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(events.map((e) => e.type)).to.include.members(['start', 'step', 'checkpoint', 'end']);
    expect(readFileSync(join(dir, 'run', 'loss.svg'), 'utf8')).to.match(/^<svg /);
    expect(existsSync(join(dir, 'run', 'trained.safetensors'))).to.equal(true);
    expect(existsSync(join(dir, 'run', 'checkpoint', 'latest.json'))).to.equal(true);
  });

  it('a task with an eval split is evaluated after training; the eval event joins metrics.jsonl', async () => {
    const spec = JSON.parse(readFileSync(join(ROOT, 'examples', 'ptuning-v2-sentiment.json'), 'utf8'));
    spec.training = { ...spec.training, maxSteps: 2, batchSize: 2, maxLength: 16, logEvery: 1 };
    spec.evaluation = { maxExamples: 6 };
    spec.output = { dir: join(dir, 'cls') };
    const path = join(dir, 'cls.json');
    writeFileSync(path, JSON.stringify(spec));
    const r = await runCli(['train', path], 300_000);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.match(/eval ptuning-v2-sentiment: accuracy \d+\.\d/);
    const events = readFileSync(join(dir, 'cls', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; metrics?: Record<string, number> });
    const ev = events.find((e) => e.type === 'eval');
    expect(ev?.metrics?.accuracy).to.be.within(0, 1);
  });

  it('a bad spec exits 1 naming the file and the JSON path', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ name: 'x', model: { bundled: 'gpt2-world' }, task: { kind: 'lm' }, training: { lr: 1, batchSize: 2, maxLength: 8 } }));
    const r = await runCli(['train', bad]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`${bad}: at $.task`);
  });

  it('SIGINT saves a checkpoint and stops cleanly', async () => {
    const spec = specFile(dir, 400);
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'promptgraph.js'), 'train', spec], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '', stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/\] 3\/\d+ /.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('close', resolve);
    });
    expect(code, `${stdout}\n${stderr}`).to.equal(0);
    expect(stdout).to.match(/stopped lm-prompt-tuning: \d+ steps/);
    const latest = JSON.parse(readFileSync(join(dir, 'run', 'checkpoint', 'latest.json'), 'utf8')) as { step: number };
    expect(latest.step).to.be.greaterThan(0).and.below(400);
  });
});
