// Export beyond one prefix/prompt: P-tuning v1 (the LSTM encoder folded into prompt_embeddings),
// a deep prompt on a layer subset (not PEFT-loadable), and compositions written as one
// sub-artifact per method ([prefix-tuning, lora], [p-tuning, prefix-tuning]); the round trip
// through loadArtifact, a P_TUNING fixture in PEFT's layout, bad input, and that both
// compositions train.
import { expect } from 'chai';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildBackbone, compile, compose, gpt2TinyConfig, hostTensor, optimizerFeeds, randomTensor, randomWeights, readSafetensors, writeSafetensors,
  type HostTensor, type ModelConfig, type ParamStore,
} from '../src/index.js';
import { exportArtifact, loadArtifact, maxAbsDiff, runMethod, type ExportModel } from '../src/pipelines/export.js';
import { backbone, batch, paramsFor, tinyConfig, CpuProgram, B, S } from './methods-harness.js';
import { ROOT, runCli, show } from './cli-run.js';
import { fixtureValues } from './fixtures/peft/values.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'peft');
const TEMPLATE = '[P*2] {x} [P] [MASK]'; // virtual tokens in front and after the slot: PEFT cannot place the third
const PTUNING = { method: 'p-tuning', virtualTokens: 3, encoder: 'lstm', template: TEMPLATE };
const PREFIX = { method: 'prefix-tuning', length: 3, reparam: { hidden: 8 } };
const SUBSET = { method: 'prefix-tuning', length: 2, reparam: { hidden: 8 }, layers: [1] };
const LORA = { method: 'lora', rank: 2, alpha: 4 };

/**
 * Stand-ins for trained values: every trainable parameter of `specs` drawn at random (not its
 * init: LoRA's B starts at zero, which would make the LoRA part invisible to every check).
 */
function trained(config: ModelConfig, specs: readonly unknown[], seed = 7): ParamStore {
  const r = compose(buildBackbone(config, { batch: 2, seq: 4, labels: false }), specs);
  const shapes = new Map(r.graph.params().map((p) => [String(p.attrs.name), p.type.shape] as const));
  return new Map(r.trainable.map((n, i) => [n, randomTensor(shapes.get(n)!, seed * 1000 + i, { scale: 0.3 })] as const));
}


async function json(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

describe('export: p-tuning v1, layer subsets, compositions', () => {
  let dir: string, model: ExportModel;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'promptgraph-export-compose-'));
    const b = backbone('gpt2');
    model = { config: b.config, weights: b.weights, label: 'tiny-gpt2' };
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  /** Export, then load: the loaded specs over the artifact's tensors give the unfolded outputs. */
  async function roundTrip(specs: readonly unknown[], out: string) {
    const params = trained(model.config, specs);
    const r = await exportArtifact({ model, methodSpecs: specs, params, out });
    expect(r.maxAbsDiff).to.be.at.most(1e-5);
    const a = await loadArtifact(out, model);
    const loadedDiff = maxAbsDiff(runMethod(model, specs, params), runMethod(model, a.specs, a.params));
    console.log(`      [${specs.map((s) => (s as { method: string }).method).join(', ')}] folded vs unfolded ${r.maxAbsDiff}, loaded vs unfolded ${loadedDiff}`);
    expect(loadedDiff).to.be.at.most(1e-6);
    return { r, a, params };
  }

  it('p-tuning v1 (LSTM encoder): the encoder folds into P_TUNING prompt_embeddings [P, D]; loading keeps the template', async () => {
    const out = join(dir, 'ptuning');
    const { r, a } = await roundTrip([PTUNING], out);
    expect(r.prompt!.shape).to.deep.equal([3, 16]);
    expect(r.folded.some((n) => n.startsWith('folded.prompt_encoder'))).to.equal(true);
    expect(r.parts[0].note).to.match(/does not reproduce it/);
    expect(await json(join(out, 'adapter_config.json'))).to.include({
      peft_type: 'P_TUNING', num_virtual_tokens: 3, token_dim: 16, num_layers: 2, num_attention_heads: 2, inference_mode: true,
      encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 8, encoder_num_layers: 2,
    });
    expect(a.specs).to.deep.equal([{ method: 'p-tuning', virtualTokens: 3, encoder: 'none', template: TEMPLATE }]);
    expect([...a.params.keys()]).to.deep.equal(['prompt_encoder.embedding.weight']);
    expect(Array.from(a.params.get('prompt_encoder.embedding.weight')!.data)).to.deep.equal(Array.from(r.prompt!.data));
  });

  it('p-tuning with tuneLm: the tuned LM weights load back from the training state', async () => {
    const spec = { method: 'p-tuning', virtualTokens: 2, encoder: 'mlp', tuneLm: true };
    const { r, a } = await roundTrip([spec], join(dir, 'tune-lm'));
    expect(r.parts[0].note).to.match(/tuneLm/);
    expect(a.params.has('h.0.attn.c_attn.weight')).to.equal(true);
  });

  it('a deep prompt on a layer subset: [P, Lsel*2*D], no adapter_config.json (not PEFT-loadable); loads on the same layers', async () => {
    const out = join(dir, 'subset');
    const { r, a } = await roundTrip([SUBSET], out);
    expect(r.prompt!.shape).to.deep.equal([2, 1 * 2 * 16]);
    expect(r.parts[0].peftType).to.equal(null);
    expect(r.parts[0].note).to.match(/not PEFT-loadable.*layers 1 of 2/);
    expect(await readdir(out)).to.not.include('adapter_config.json');
    const meta = await json(join(out, 'promptgraph.json')) as { parts: { peftType: unknown; note: string }[] };
    expect(meta.parts[0].peftType).to.equal(null);
    expect(a.specs).to.deep.equal([{ method: 'prefix-tuning', length: 2, layers: [1], reparam: null }]);
  });

  it('[prefix-tuning, lora]: one sub-artifact per method, LoRA in PEFT layout, the whole graph fold-checked and loaded back', async () => {
    const out = join(dir, 'prefix-lora');
    const { r, a, params } = await roundTrip([PREFIX, LORA], out);
    expect((await readdir(out)).sort()).to.deep.equal(['0-prefix-tuning', '1-lora', 'promptgraph.json', 'training_state.safetensors']);
    expect(r.parts.map((p) => p.peftType)).to.deep.equal(['PREFIX_TUNING', 'LORA']);
    expect(await json(join(out, '0-prefix-tuning', 'adapter_config.json'))).to.include({ peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3, prefix_projection: false });
    const lora = await json(join(out, '1-lora', 'adapter_config.json'));
    expect(lora).to.include({ peft_type: 'LORA', r: 2, lora_alpha: 4, fan_in_fan_out: true, bias: 'none', task_type: 'CAUSAL_LM' });
    expect(lora.target_modules).to.deep.equal(['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']);
    const factors = (await readSafetensors(join(out, '1-lora', 'adapter_model.safetensors'))).tensors;
    expect([...factors.keys()].sort()).to.deep.equal([0, 1].flatMap((l) => ['A', 'B'].map((ab) => `base_model.model.transformer.h.${l}.attn.c_attn.lora_${ab}.weight`)));
    expect(factors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.shape).to.deep.equal([2, 16]);
    expect(factors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!.shape).to.deep.equal([48, 2]);
    expect(Array.from(factors.get('base_model.model.transformer.h.1.attn.c_attn.lora_B.weight')!.data)).to.deep.equal(Array.from(params.get('h.1.attn.c_attn.lora_B.weight')!.data));
    const meta = await json(join(out, 'promptgraph.json')) as { parts: { dir: string; method: unknown }[] };
    expect(meta.parts.map((p) => [p.dir, p.method])).to.deep.equal([['0-prefix-tuning', PREFIX], ['1-lora', LORA]]);
    expect(a.specs).to.deep.equal([{ method: 'prefix-tuning', length: 3, reparam: null }, LORA]);
    // The LoRA part is live: without it the outputs change.
    expect(maxAbsDiff(runMethod(model, [PREFIX, LORA], params), runMethod(model, [PREFIX], params))).to.be.above(1e-3);
    // A sub-artifact alone is a PEFT artifact: read without promptgraph.json, from PEFT's config and names.
    const alone = await loadArtifact(join(out, '1-lora'), model);
    expect(alone.specs).to.deep.equal([{ method: 'lora', rank: 2, alpha: 4, targets: ['h.0.attn.c_attn', 'h.1.attn.c_attn'] }]);
    expect(maxAbsDiff(runMethod(model, alone.specs, alone.params), runMethod(model, [LORA], params))).to.equal(0);
  });

  it('[p-tuning, prefix-tuning]: both reparameterizations fold (P_TUNING and PREFIX_TUNING sub-artifacts) and load back', async () => {
    const out = join(dir, 'ptuning-prefix');
    const { r, a } = await roundTrip([PTUNING, PREFIX], out);
    expect(r.parts.map((p) => [p.method, p.peftType])).to.deep.equal([['p-tuning', 'P_TUNING'], ['prefix-tuning', 'PREFIX_TUNING']]);
    expect(r.folded.some((n) => n.startsWith('folded.prompt_encoder'))).to.equal(true);
    expect(r.folded.some((n) => n.startsWith('folded.prefix'))).to.equal(true);
    expect(r.parts[1].tensors.get('prompt_embeddings')!.shape).to.deep.equal([3, 2 * 2 * 16]);
    expect(a.specs.map((s) => (s as { method: string }).method)).to.deep.equal(['p-tuning', 'prefix-tuning']);
  });

  it('[p-tuning-v2, lora] on BERT: LoRA keys under bert.*, loaded back', async () => {
    const config = tinyConfig('bert');
    const bert: ExportModel = { config, weights: randomWeights(config, 5, 0.2) };
    const specs = [{ method: 'p-tuning-v2', length: 2 }, { method: 'lora', rank: 2 }];
    const params = trained(config, specs);
    const out = join(dir, 'bert');
    const r = await exportArtifact({ model: bert, methodSpecs: specs, params, out });
    expect(r.maxAbsDiff).to.be.at.most(1e-5);
    expect([...r.parts[1].tensors.keys()]).to.include('base_model.model.bert.encoder.layer.1.attention.self.value.lora_B.weight');
    expect(await json(join(out, '1-lora', 'adapter_config.json'))).to.include({ fan_in_fan_out: false, lora_alpha: 2 });
    const a = await loadArtifact(out, bert);
    expect(maxAbsDiff(runMethod(bert, specs, params), runMethod(bert, a.specs, a.params))).to.be.at.most(1e-6);
  });

  it('loads a P_TUNING artifact in PEFT layout (fixture) as PEFT runs it: the encoder output prepended, i.e. prompt tuning', async () => {
    const a = await loadArtifact(join(FIXTURES, 'p-tuning'), model);
    expect(a.specs).to.deep.equal([{ method: 'prompt-tuning', length: 3 }]);
    const expected = runMethod(model, [{ method: 'prompt-tuning', length: 3 }], new Map([['prompt.embeddings', fixtureValues([3, 16], 1.3)]]));
    expect(maxAbsDiff(runMethod(model, a.specs, a.params), expected)).to.equal(0);
    // The fixture's values matter: a different prompt gives different outputs.
    const other = runMethod(model, [{ method: 'prompt-tuning', length: 3 }], new Map([['prompt.embeddings', fixtureValues([3, 16], 0.2)]]));
    expect(maxAbsDiff(other, expected)).to.be.above(1e-3);
  });

  it('a composition for another backbone is refused naming the field; a missing sub-artifact is named', async () => {
    const out = join(dir, 'bad');
    await exportArtifact({ model, methodSpecs: [PREFIX, LORA], params: trained(model.config, [PREFIX, LORA]), out });
    const config = gpt2TinyConfig({ vocabSize: 40, dim: 16, heads: 2, inner: 32, layers: 3, positions: 32 });
    await expectRejects(loadArtifact(out, { config, weights: randomWeights(config, 1, 0.2) }), /0-prefix-tuning\/adapter_config\.json: num_layers: artifact 2, backbone 3[\s\S]*backbone\.layers: artifact 2, backbone 3/);
    await rm(join(out, '1-lora', 'adapter_model.safetensors'));
    await expectRejects(loadArtifact(out, model), /composition part 1 \(lora, 1-lora\/\): \S*1-lora\/adapter_model\.safetensors: no such file/);
    await rm(join(out, '1-lora'), { recursive: true });
    await expectRejects(loadArtifact(out, model), /composition part 1 \(lora, 1-lora\/\): \S*1-lora: no such directory/);
    await rm(join(out, '0-prefix-tuning', 'adapter_config.json'));
    await expectRejects(loadArtifact(out, model), /composition part 0 \(prefix-tuning, 0-prefix-tuning\/\): \S*adapter_config\.json: no such file/);
  });

  it('promptgraph export reads a list of methods (or a run spec\'s "methods") and prints one line per sub-artifact', async () => {
    const params = join(dir, 'trained.safetensors');
    await writeSafetensors(params, trained(gpt2TinyConfig(), [PREFIX, LORA]));
    for (const [i, doc] of [[PREFIX, LORA], { name: 'run', methods: [PREFIX, LORA] }].entries()) {
      const spec = join(dir, `spec${i}.json`), out = join(dir, `cli${i}`);
      await writeFile(spec, JSON.stringify(doc));
      const r = await runCli(['export', '--tiny', 'gpt2', '--method', spec, '--params', params, '--out', out]);
      expect(r.code, show(r)).to.equal(0);
      expect(r.stdout).to.match(/0-prefix-tuning\/: prefix-tuning -> PREFIX_TUNING: prompt_embeddings \[3, 128\]/); // gpt2TinyConfig(): 2 layers, width 32
      expect(r.stdout).to.match(/1-lora\/: lora -> LORA: base_model\.model\.transformer\.h\.0\.attn\.c_attn\.lora_A\.weight \[2, 32\]/);
      expect(r.stdout).to.match(/max abs diff \S+ \(tolerance 1e-5/);
    }
  });

  describe('the compositions train', () => {
    // CPU reference program: a few AdamW steps on one fixed batch lower the LM loss.
    for (const specs of [[PREFIX, LORA], [PTUNING, PREFIX]]) {
      it(`[${specs.map((s) => s.method).join(', ')}] lowers the loss`, async () => {
        const b = backbone('gpt2');
        const r = compose(b.graph, specs);
        const params = paramsFor(r, b.weights);
        const positions = hostTensor([B, S], 'i32', [0, 1, -1, -1, 2, -1, -1, -1, -1, 0, 1, -1, -1, 2, -1, -1]);
        const feeds = { ...batch('gpt2'), ...(r.graph.inputs().some((n) => n.attrs.name === 'prompt_positions') ? { prompt_positions: positions } : {}) };
        const program = new CpuProgram(compile(r.graph, { train: true, trainable: r.trainable, params: new Map(params) }), params);
        const losses: number[] = [];
        for (let t = 1; t <= 12; t++) losses.push((await program.run({ ...feeds, ...optimizerFeeds(t, 0.01) }, ['loss'])).get('loss')!.data[0]);
        console.log(`      losses ${losses[0].toFixed(4)} -> ${losses[losses.length - 1].toFixed(4)}`);
        expect(losses.every(Number.isFinite)).to.equal(true);
        expect(losses[losses.length - 1]).to.be.below(losses[0] - 0.05);
      });
    }
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
