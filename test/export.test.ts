// Export: folding a trained method into PEFT's prompt_embeddings, the artifact round trip, a
// fixture written in PEFT's layout by test/fixtures/peft/make-fixture.mjs, backbone mismatches.
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applySpec, buildBackbone, gpt2TinyConfig, hostTensor, initParams, randomWeights, writeSafetensors,
  type HostTensor, type ModelConfig, type ParamStore,
} from '../src/index.js';
import { exportArtifact, loadArtifact, maxAbsDiff, runMethod, type ExportModel } from '../src/pipelines/export.js';
import { backbone, tinyConfig } from './methods-harness.js';
import { ROOT, runCli, show } from './cli-run.js';
import { fixtureValues } from './fixtures/peft/values.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'peft');
const PREFIX = { method: 'prefix-tuning', length: 3, reparam: { hidden: 8 } };
const PROMPT = { method: 'prompt-tuning', length: 2 };

/** Stand-ins for trained values: the method's parameters from a seed other than the init's. */
function trainedFor(config: ModelConfig, spec: unknown, seed = 7): ParamStore {
  const r = applySpec(buildBackbone(config, { batch: 2, seq: 4, labels: false }), spec);
  const all = initParams(r.graph, seed, new Map());
  return new Map(r.trainable.map((n) => [n, all.get(n)!] as const));
}


describe('export', () => {
  let dir: string, model: ExportModel;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'promptgraph-export-'));
    const b = backbone('gpt2');
    model = { config: b.config, weights: b.weights, label: 'tiny-gpt2' };
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('prefix-tuning with reparam: the MLP folds into prompt_embeddings [P, L*2*D]; folded vs unfolded <= 1e-5', async () => {
    const out = join(dir, 'prefix');
    const r = await exportArtifact({ model, methodSpec: PREFIX, params: trainedFor(model.config, PREFIX), out });
    console.log(`      prefix-tuning folded vs unfolded max abs diff: ${r.maxAbsDiff}`);
    expect(r.maxAbsDiff).to.be.at.most(1e-5);
    expect(r.folded.some((n) => n.startsWith('folded.prefix.'))).to.equal(true);
    expect(r.prompt!.shape).to.deep.equal([3, 2 * 2 * 16]);
    const cfg = JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).to.include({ peft_type: 'PREFIX_TUNING', task_type: 'CAUSAL_LM', num_virtual_tokens: 3, token_dim: 16, num_layers: 2, num_attention_heads: 2, num_transformer_submodules: 1, prefix_projection: false, base_model_name_or_path: 'tiny-gpt2' });
    const meta = JSON.parse(await readFile(join(out, 'promptgraph.json'), 'utf8')) as { parts: { method: unknown }[]; backbone: { graphSha256: string } };
    expect(meta.parts[0].method).to.deep.equal(PREFIX);
    expect(meta.backbone.graphSha256).to.match(/^[0-9a-f]{64}$/);
  });

  it('save, loadArtifact, run: the same outputs as the unfolded model; the training state is the unfolded parameters', async () => {
    const out = join(dir, 'roundtrip');
    const trained = trainedFor(model.config, PREFIX);
    await exportArtifact({ model, methodSpec: PREFIX, params: trained, out });
    const a = await loadArtifact(out, model);
    expect(a.specs).to.deep.equal([{ method: 'prefix-tuning', length: 3, reparam: null }]);
    expect([...a.params.keys()]).to.deep.equal(['prefix.embeddings']);
    const diff = maxAbsDiff(runMethod(model, [PREFIX], trained), runMethod(model, a.specs, a.params));
    console.log(`      loaded artifact vs unfolded model max abs diff: ${diff}`);
    expect(diff).to.be.at.most(1e-5);
    expect([...a.trainingState!.keys()].sort()).to.deep.equal([...trained.keys()].sort());
    for (const [k, v] of trained) expect(Array.from(a.trainingState!.get(k)!.data)).to.deep.equal(Array.from(Float32Array.from(v.data)));
  });

  it('loads a prefix-tuning artifact in PEFT layout (fixture) like the same prompt given as our parameters', async () => {
    const a = await loadArtifact(join(FIXTURES, 'prefix'), model);
    expect(a.specs).to.deep.equal([{ method: 'prefix-tuning', length: 3, reparam: null }]);
    const ours = runMethod(model, [{ method: 'prefix-tuning', length: 3, reparam: null }], new Map([['prefix.embeddings', fixtureValues([3, 64], 0.1)]]));
    expect(maxAbsDiff(runMethod(model, a.specs, a.params), ours)).to.be.at.most(1e-6);
  });

  it('loads a prompt-tuning artifact in PEFT layout (fixture) like the same prompt given as our parameters', async () => {
    const a = await loadArtifact(join(FIXTURES, 'prompt'), model);
    expect(a.specs).to.deep.equal([{ method: 'prompt-tuning', length: 2 }]);
    const ours = runMethod(model, [PROMPT], new Map([['prompt.embeddings', fixtureValues([2, 16], 0.7)]]));
    expect(maxAbsDiff(runMethod(model, a.specs, a.params), ours)).to.be.at.most(1e-6);
  });

  it('an artifact for a different backbone is refused, naming the field and both values', async () => {
    const other = (dims: Partial<{ layers: number; dim: number; heads: number }>): ExportModel => {
      const config = gpt2TinyConfig({ vocabSize: 40, dim: 16, heads: 2, inner: 32, layers: 2, positions: 32, ...dims });
      return { config, weights: randomWeights(config, 1, 0.2) };
    };
    const fixture = join(FIXTURES, 'prefix');
    await expectRejects(loadArtifact(fixture, other({ heads: 4 })), /num_attention_heads: artifact 2, backbone 4/);
    await expectRejects(loadArtifact(fixture, other({ layers: 3 })), /num_layers: artifact 2, backbone 3/);
    await expectRejects(loadArtifact(fixture, other({ dim: 32, heads: 2 })), /token_dim: artifact 16, backbone 32/);
    const vocab = gpt2TinyConfig({ vocabSize: 41, dim: 16, heads: 2, inner: 32, layers: 2, positions: 32 });
    await exportArtifact({ model, methodSpec: PREFIX, params: trainedFor(model.config, PREFIX), out: join(dir, 'v') });
    await expectRejects(loadArtifact(join(dir, 'v'), { config: vocab, weights: randomWeights(vocab, 1, 0.2) }), /backbone\.vocab: artifact 40, backbone 41/);
  });

  it('prompt tuning exports prompt_embeddings [P, D] and round-trips', async () => {
    const out = join(dir, 'prompt');
    const trained = trainedFor(model.config, PROMPT);
    const r = await exportArtifact({ model, methodSpec: PROMPT, params: trained, out });
    expect(r.maxAbsDiff).to.be.at.most(1e-5);
    expect(r.prompt!.shape).to.deep.equal([2, 16]);
    const cfg = JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).to.include({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2, token_dim: 16 });
    const a = await loadArtifact(out, model);
    expect(maxAbsDiff(runMethod(model, [PROMPT], trained), runMethod(model, a.specs, a.params))).to.be.at.most(1e-5);
  });

  it('p-tuning v2 on BERT exports as PREFIX_TUNING, folded vs unfolded <= 1e-5', async () => {
    const config = tinyConfig('bert');
    const bert = { config, weights: randomWeights(config, 5, 0.2) };
    const spec = { method: 'p-tuning-v2', length: 2 };
    const r = await exportArtifact({ model: bert, methodSpec: spec, params: trainedFor(config, spec), out: join(dir, 'bert') });
    expect(r.maxAbsDiff).to.be.at.most(1e-5);
    expect(r.prompt!.shape).to.deep.equal([2, 2 * 2 * 16]);
  });

  it('promptgraph export --tiny gpt2 writes the artifact and prints the max abs diff', async () => {
    const spec = join(dir, 'spec.json'), params = join(dir, 'trained.safetensors'), out = join(dir, 'cli');
    await writeFile(spec, JSON.stringify(PREFIX));
    await writeSafetensors(params, trainedFor(gpt2TinyConfig(), PREFIX));
    const r = await runCli(['export', '--tiny', 'gpt2', '--method', spec, '--params', params, '--out', out, '--cpu']);
    expect(r.code, show(r)).to.equal(0);
    expect(r.stdout).to.match(/max abs diff \S+ \(tolerance 1e-5/);
    const a = await loadArtifact(out, { config: gpt2TinyConfig(), weights: new Map() });
    expect(a.specs.length).to.equal(1);
  });
});

async function expectRejects(p: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect((e as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a rejection matching ${String(message)}`);
}
