// `promptgraph trace`, run as users run it, on tiny models written to a temp directory.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bertTinyConfig, gpt2TinyConfig, randomTensor, readSafetensors, writeRandomModel, writeSafetensors, type HostTensor,
} from '../src/index.js';
import { expectClose } from './helpers.js';
import { runCli, show } from './cli-run.js';

const V = 50, D = 16, P = 3;
const dims = { vocabSize: V, dim: D, heads: 2, inner: 32, layers: 2, positions: 32 };
const LINES = [
  { input_ids: [5, 6, 7, 8, 9], labels: [5, 6, 7, 8, 9] },
  { input_ids: [1, 2, 3], attention_mask: [1, 1, 1], labels: [-100, 2, 3] },
];
const PREFIX = { method: 'prefix-tuning', length: P, reparam: null };

async function tensors(path: string): Promise<Map<string, HostTensor>> {
  return (await readSafetensors(path)).tensors;
}

describe('CLI trace', () => {
  let dir: string, gpt2: string, bert: string, batch: string, spec: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'promptgraph-trace-'));
    gpt2 = join(dir, 'gpt2');
    bert = join(dir, 'bert');
    await writeRandomModel(gpt2, gpt2TinyConfig(dims), 1, 0.2);
    await writeRandomModel(bert, bertTinyConfig(dims), 2, 0.2);
    batch = join(dir, 'batch.jsonl');
    await writeFile(batch, LINES.map((l) => JSON.stringify(l)).join('\n') + '\n');
    spec = join(dir, 'prefix.json');
    await writeFile(spec, JSON.stringify(PREFIX));
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes logits [batch, seq, vocab] and the loss, and WebGPU logits equal the CPU run within 1e-4', async () => {
    const gpu = join(dir, 'gpu.safetensors'), cpu = join(dir, 'cpu.safetensors');
    const r = await runCli(['trace', '--model', gpt2, '--input', batch, '--out', gpu]);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.match(new RegExp(`^wrote ${gpu} \\(2 tensors, run on the webgpu, loss \\S+\\)`));
    const c = await runCli(['trace', '--model', gpt2, '--input', batch, '--out', cpu, '--cpu']);
    expect(c.code, show(c)).to.equal(0);
    const dev = await tensors(gpu), ref = await tensors(cpu);
    expect([...dev.keys()].sort()).to.deep.equal(['logits', 'loss']);
    expect(dev.get('logits')!.shape).to.deep.equal([2, 5, V]);
    expect(dev.get('loss')!.shape).to.deep.equal([]);
    expect(Number.isFinite(dev.get('loss')!.data[0])).to.equal(true);
    expectClose(dev.get('logits')!, ref.get('logits')!, { rel: 0, abs: 1e-4 }, 'logits');
    expectClose(dev.get('loss')!, ref.get('loss')!, { rel: 0, abs: 1e-4 }, 'loss');
  });

  it('with a method spec writes param/ and grad/ for every trainable parameter, WebGPU like the CPU', async () => {
    const gpu = join(dir, 'm-gpu.safetensors'), cpu = join(dir, 'm-cpu.safetensors');
    const r = await runCli(['trace', '--model', gpt2, '--input', batch, '--out', gpu, '--method', spec]);
    expect(r.code, show(r)).to.equal(0);
    const c = await runCli(['trace', '--model', gpt2, '--input', batch, '--out', cpu, '--method', spec, '--cpu']);
    expect(c.code, show(c)).to.equal(0);
    const dev = await tensors(gpu), ref = await tensors(cpu);
    expect([...dev.keys()].sort()).to.deep.equal(['grad/prefix.embeddings', 'logits', 'loss', 'param/prefix.embeddings']);
    expect(dev.get('param/prefix.embeddings')!.shape).to.deep.equal([P, 2 * 2 * D]);
    expect(dev.get('grad/prefix.embeddings')!.shape).to.deep.equal([P, 2 * 2 * D]);
    expect(dev.get('logits')!.shape).to.deep.equal([2, 5, V]);
    expect(Array.from(dev.get('grad/prefix.embeddings')!.data).some((g) => g !== 0), 'gradient is all zeros').to.equal(true);
    expectClose(dev.get('param/prefix.embeddings')!, ref.get('param/prefix.embeddings')!, { rel: 0, abs: 0 }, 'param');
    expectClose(dev.get('logits')!, ref.get('logits')!, { rel: 0, abs: 1e-4 }, 'logits');
    expectClose(dev.get('grad/prefix.embeddings')!, ref.get('grad/prefix.embeddings')!, { rel: 1e-3, abs: 1e-5 }, 'grad');
  });

  it('--params sets trainable parameters; --seed changes the init of the others', async () => {
    const values = randomTensor([P, 2 * 2 * D], 7, { scale: 0.1 });
    const params = join(dir, 'params.safetensors');
    await writeSafetensors(params, { 'prefix.embeddings': values });
    const out = join(dir, 'p.safetensors');
    const r = await runCli(['trace', '--model', gpt2, '--input', batch, '--out', out, '--method', spec, '--params', params, '--cpu']);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.contain('parameters from --params: prefix.embeddings');
    expectClose((await tensors(out)).get('param/prefix.embeddings')!, values, { rel: 1e-7, abs: 0 }, 'param from file');
    const seeded = join(dir, 's.safetensors');
    expect((await runCli(['trace', '--model', gpt2, '--input', batch, '--out', seeded, '--method', spec, '--seed', '5', '--cpu'])).code).to.equal(0);
    const s5 = (await tensors(seeded)).get('param/prefix.embeddings')!;
    const s0 = (await tensors(join(dir, 'm-cpu.safetensors'))).get('param/prefix.embeddings')!;
    expect(Array.from(s5.data)).to.not.deep.equal(Array.from(s0.data));
  });

  it('--params with an unknown or wrongly shaped name is an error naming them', async () => {
    const params = join(dir, 'bad-params.safetensors');
    await writeSafetensors(params, { 'prefix.embeddings': randomTensor([2, 2], 1), 'prefix.bogus': randomTensor([3], 1) });
    const r = await runCli(['trace', '--model', gpt2, '--input', batch, '--out', join(dir, 'x.safetensors'), '--method', spec, '--params', params, '--cpu']);
    expect(r.code, show(r)).to.equal(1);
    expect(r.stderr).to.contain(`${params}: tensors do not match the trainable parameters`);
    expect(r.stderr).to.contain('not trainable parameters of this model (1): prefix.bogus');
    expect(r.stderr).to.contain(`prefix.embeddings: expected f32[${P},${4 * D}], found f32[2,2]`);
    expect(r.stderr).to.contain('trainable parameters: prefix.embeddings');
  });

  it('a malformed JSONL line is an error naming file:line and the JSON path', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, `${JSON.stringify(LINES[0])}\n\n{"input_ids": [1, "two", 3]}\n`);
    const r = await runCli(['trace', '--model', gpt2, '--input', bad, '--out', join(dir, 'x.safetensors'), '--cpu']);
    expect(r.code, show(r)).to.equal(1);
    expect(r.stderr).to.contain(`${bad}:3: at $.input_ids[1]: expected integer, got "two"`);
    expect(r.stderr).not.to.match(/\n\s+at /);
    const range = join(dir, 'range.jsonl');
    await writeFile(range, '{"input_ids": [1, 2], "labels": [1, 99]}\n');
    const q = await runCli(['trace', '--model', gpt2, '--input', range, '--out', join(dir, 'x.safetensors'), '--cpu']);
    expect(q.code, show(q)).to.equal(1);
    expect(q.stderr).to.contain(`${range}:1: at $.labels[1]: label 99 is neither a token id (0..${V - 1}) nor -100 (ignored)`);
  });

  it('BERT with a method, and a batch without labels (no loss, no gradients)', async () => {
    const out = join(dir, 'bert.safetensors');
    const r = await runCli(['trace', '--model', bert, '--input', batch, '--out', out, '--method', spec, '--cpu']);
    expect(r.code, show(r)).to.equal(0);
    const t = await tensors(out);
    expect(t.get('logits')!.shape).to.deep.equal([2, 5, V]);
    expect(t.has('grad/prefix.embeddings')).to.equal(true);
    const unlabeled = join(dir, 'unlabeled.jsonl');
    await writeFile(unlabeled, '{"input_ids": [4, 5, 6, 7]}\n');
    const out2 = join(dir, 'bert2.safetensors');
    const u = await runCli(['trace', '--model', bert, '--input', unlabeled, '--out', out2, '--method', spec, '--cpu']);
    expect(u.code, show(u)).to.equal(0);
    expect(u.stdout).to.contain('note: no example has labels');
    expect([...(await tensors(out2)).keys()].sort()).to.deep.equal(['logits', 'param/prefix.embeddings']);
  });

  it('--input and --out are required', async () => {
    const r = await runCli(['trace', '--model', gpt2, '--out', join(dir, 'x.safetensors')]);
    expect(r.code, show(r)).to.equal(64);
    expect(r.stderr).to.contain('--input BATCH.jsonl is required');
  });
});
