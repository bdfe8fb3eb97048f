// `promptgraph inspect`, run as users run it, and the library function behind it.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpt2TinyConfig, writeRandomModel, type GraphJson, type Report, type Summary } from '../src/index.js';
import { inspectModel, passCatalogue } from '../src/pipelines/inspect.js';
import { loadModel, prepareModel } from '../src/pipelines/model.js';
import { runCli, show } from './cli-run.js';

/** Prefix-tuning without its MLP: on a tiny model the default 512-wide MLP outweighs the backbone. */
const PREFIX = { method: 'prefix-tuning', length: 4, reparam: null };
const PASSES = ['input', 'freeze', 'unmark', 'shard', 'fuse-attention', 'inference', 'autodiff', 'adamw', 'pads-to-concat', 'dce', 'cse', 'fold', 'half-storage', 'fusion', 'split-concat'];

describe('CLI inspect', () => {
  let dir: string, spec: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'promptgraph-inspect-'));
    spec = join(dir, 'prefix.json');
    await writeFile(spec, JSON.stringify(PREFIX));
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('--tiny gpt2 with prefix-tuning prints the summary with trainable % and a FLOPs ratio vs full fine-tuning <= 0.7', async () => {
    const r = await runCli(['inspect', '--tiny', 'gpt2', '--method', spec, '--compare-full-ft', '--summary']);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.match(/^model: tiny gpt2 \(random weights\), gpt2, batch 2 x seq 16$/m);
    expect(r.stdout).to.match(/^compiled: training step/m);
    const params = /^parameters: \S+ total, (\d+) trainable \((\d+\.\d+)%\)$/m.exec(r.stdout);
    expect(params, r.stdout).to.not.equal(null);
    expect(Number(params![1])).to.equal(4 * 2 * 2 * 32); // P x (layers x keys/values x dim)
    expect(Number(params![2])).to.be.within(0.1, 5);
    expect(r.stdout).to.match(/^step FLOPs: \S+ \(forward \S+, backward \S+, optimizer \S+\)$/m);
    expect(r.stdout).to.match(/^kernels: \d+$/m);
    expect(r.stdout).to.match(/^memory: peak .* planned/m);
    const cmp = /^vs full fine-tuning \(.*\): step FLOPs (\d+\.\d+)x .* peak memory (\d+\.\d+)x/m.exec(r.stdout);
    expect(cmp, r.stdout).to.not.equal(null);
    expect(Number(cmp![1])).to.be.at.most(0.7);
    expect(Number(cmp![2])).to.be.below(1);
    expect(r.stdout).not.to.match(/^graph\(/m);
  });

  it('prints the final graph with per-node phase, FLOPs and bytes and trainable/frozen marks', async () => {
    const r = await runCli(['inspect', '--tiny', 'gpt2', '--method', spec, '--train']);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.contain('graph after split-concat (final)');
    expect(r.stdout).to.match(/^graph\(.* prefix\.embeddings trainable, .* wte\.weight frozen/m);
    expect(r.stdout).to.match(/= matmul .* # forward \S+FLOP \S+ \S?i?B$/m);
    expect(r.stdout).to.match(/# backward \S+FLOP/);
    expect(r.stdout).to.match(/# optimizer \S+FLOP/);
    expect(r.stdout).to.match(/\nsummary:\nparameters: /);
  });

  it('--after autodiff --format json prints graphToJson and the report of that stage', async () => {
    const r = await runCli(['inspect', '--tiny', 'gpt2', '--method', spec, '--train', '--after', 'autodiff', '--format', 'json']);
    expect(r.code, show(r)).to.equal(0);
    const j = JSON.parse(r.stdout) as { stage: string; graph: GraphJson; report: Report; summary: Summary; passes: { pass: string }[] };
    expect(j.stage).to.equal('autodiff');
    expect(j.graph.format).to.equal('promptgraph.graph/1');
    expect(Object.keys(j.graph.outputs)).to.include('grad:prefix.embeddings');
    expect(Object.keys(j.graph.outputs).some((k) => k.startsWith('next:')), 'no optimizer yet after autodiff').to.equal(false);
    expect(j.report.nodes.length).to.equal(j.graph.nodes.length);
    expect(j.report.nodes.some((n) => n.phase === 'backward')).to.equal(true);
    expect(j.summary.flops.optimizer, 'the summary is of the compiled step').to.be.greaterThan(0);
    expect(j.passes.map((p) => p.pass)).to.deep.equal(['input', 'freeze', 'unmark', 'shard', 'fuse-attention', 'autodiff', 'adamw', 'pads-to-concat', 'dce', 'cse', 'fold', 'dce', 'fusion', 'split-concat']);
  });

  it('--format dot prints Graphviz DOT', async () => {
    const r = await runCli(['inspect', '--tiny', 'bert', '--method', spec, '--format', 'dot']);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.match(/^digraph promptgraph \{/);
    expect(r.stdout).to.match(/fillcolor="#ffd27f"/); // a trainable parameter
    expect(r.stdout.trimEnd()).to.match(/\}$/);
  });

  it('an unknown pass is a usage error listing the passes', async () => {
    const r = await runCli(['inspect', '--tiny', 'gpt2', '--after', 'frobnicate']);
    expect(r.code, show(r)).to.equal(64);
    expect(r.stderr.trim()).to.equal(`promptgraph: inspect: unknown pass 'frobnicate'; passes: ${PASSES.join(', ')}`);
  });

  it('a pass that did not run says why', async () => {
    const r = await runCli(['inspect', '--tiny', 'gpt2', '--method', spec, '--after', 'autodiff']);
    expect(r.code, show(r)).to.equal(1);
    expect(r.stderr).to.contain("pass 'autodiff' did not run in this compilation (it runs only when compiling a training step: add --train)");
  });

  it('--list-passes prints every pass with what it does, requires and ensures', async () => {
    const r = await runCli(['inspect', '--list-passes']);
    expect(r.code, show(r)).to.equal(0);
    for (const p of passCatalogue()) {
      expect(r.stdout).to.match(new RegExp(`^  ${p.name} +${p.description.replace(/[()`]/g, '\\$&')}$`, 'm'));
    }
    expect(r.stdout).to.match(/runs: training step; requires: frozen; ensures: scalar-loss, gradients/);
  });

  it('reads a Hugging Face checkpoint directory, and a spec array composes', async () => {
    const model = join(dir, 'gpt2');
    await writeRandomModel(model, gpt2TinyConfig({ vocabSize: 50, dim: 16, heads: 2, inner: 32, positions: 32 }), 1);
    const both = join(dir, 'both.json');
    await writeFile(both, JSON.stringify([{ method: 'prompt-tuning', length: 2 }, PREFIX]));
    const r = await runCli(['inspect', '--model', model, '--method', both, '--batch', '1', '--seq', '8', '--summary']);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.contain(`model: ${model}, gpt2, batch 1 x seq 8`);
    expect(r.stdout).to.match(/^method: 2 soft tokens .*; 4 key\/value positions/m);
    expect(r.stdout).to.match(/^parameters: \S+ total, 288 trainable/m); // 2x16 + 4x(2x2x16)
  });

  it('a malformed method spec names the file and the JSON path', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ method: 'prefix-tuning', length: 'four' }));
    const r = await runCli(['inspect', '--tiny', 'gpt2', '--method', bad]);
    expect(r.code, show(r)).to.equal(1);
    expect(r.stderr).to.contain(`${bad}: method spec (prefix-tuning): at $.length: expected Int, got "four"`);
    expect(r.stderr).not.to.match(/\n\s+at /);
  });

  it('usage mistakes exit 64', async () => {
    for (const [args, msg] of [
      [['inspect'], 'give --model DIR'],
      [['inspect', '--tiny', 'llama'], "--tiny must be one of gpt2, bert, got 'llama'"],
      [['inspect', '--tiny', 'gpt2', '--format', 'xml'], '--format must be one of text, json, dot'],
      [['inspect', '--tiny', 'gpt2', '--batch', '0'], '--batch must be an integer >= 1'],
    ] as const) {
      const r = await runCli(args);
      expect(r.code, show(r)).to.equal(64);
      expect(r.stderr).to.contain(msg);
    }
  });

  it('inspectModel returns the stages, the shown graph and the comparison', async () => {
    const prepared = prepareModel(await loadModel({ kind: 'tiny', model: 'gpt2' }), { batch: 2, seq: 16, specs: [PREFIX] });
    const r = inspectModel(prepared, { compareFullFt: true, after: 'adamw' });
    expect(r.train).to.equal(true);
    expect(r.compiled.stages.map((s) => s.pass)).to.include.members(['autodiff', 'adamw']);
    expect(r.graph).to.equal(r.compiled.stages.find((s) => s.pass === 'adamw')!.graph);
    expect(r.report.nodes.length).to.equal(r.graph.size);
    expect(r.fullFt!.flopsRatio).to.equal(r.summary.flops.total / r.fullFt!.summary.flops.total);
    expect(r.fullFt!.summary.trainablePercent).to.equal(100);
  });
});
