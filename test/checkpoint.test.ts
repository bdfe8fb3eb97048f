import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomTensor, type HostTensor } from '../src/ops/host.js';
import { parseModelConfig, toHfConfig, type BertConfig, type Gpt2Config } from '../src/models/config.js';
import {
  checkTensors, expectedBertTensors, expectedGpt2Tensors, loadCheckpoint, saveCheckpoint,
} from '../src/models/checkpoint.js';
import { writeSafetensors } from '../src/models/safetensors.js';

const GPT2_HF = {
  model_type: 'gpt2', vocab_size: 11, n_positions: 8, n_embd: 4, n_layer: 2, n_head: 2, n_inner: null,
  activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, bos_token_id: 10, eos_token_id: 10,
  architectures: ['GPT2LMHeadModel'], n_ctx: 8, task_specific_params: { 'text-generation': { do_sample: true } },
};
const BERT_HF = {
  model_type: 'bert', vocab_size: 13, hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 6,
  hidden_act: 'gelu', max_position_embeddings: 8, type_vocab_size: 2, pad_token_id: 0, architectures: ['BertForMaskedLM'],
};

const gpt2 = (): Gpt2Config => parseModelConfig(GPT2_HF, 'gpt2/config.json') as Gpt2Config;
const bert = (): BertConfig => parseModelConfig(BERT_HF, 'bert/config.json') as BertConfig;

function randomWeights(shapes: ReadonlyMap<string, readonly number[]>, seed = 1): Map<string, HostTensor> {
  return new Map([...shapes].map(([name, shape], i) => [name, randomTensor(shape, seed + i)]));
}

async function messageOf(p: Promise<unknown>): Promise<string> {
  return p.then(() => expect.fail('should have failed'), (e: Error) => e.message);
}

function messageOfSync(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return expect.fail('should have failed');
}

describe('model configs', () => {
  it('normalizes GPT-2 and BERT configs with defaults', () => {
    const g = gpt2();
    expect(g).to.include({ kind: 'gpt2', vocabSize: 11, positions: 8, dim: 4, layers: 2, heads: 2, inner: 16, eps: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 10 });
    expect(g.extra).to.deep.equal({ architectures: ['GPT2LMHeadModel'], n_ctx: 8, task_specific_params: { 'text-generation': { do_sample: true } } });
    const b = bert();
    expect(b).to.include({ kind: 'bert', dim: 4, inner: 6, positions: 8, typeVocabSize: 2, eps: 1e-12, gelu: 'erf', padTokenId: 0 });
    expect((parseModelConfig({ ...BERT_HF, hidden_act: 'gelu_new' }, 'c') as BertConfig).gelu).to.equal('tanh');
    const minimal = parseModelConfig({ model_type: 'gpt2', vocab_size: 5, n_positions: 4, n_embd: 6, n_layer: 1, n_head: 3 }, 'c') as Gpt2Config;
    expect(minimal).to.deep.equal({ kind: 'gpt2', vocabSize: 5, positions: 4, dim: 6, layers: 1, heads: 3, inner: 24, eps: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, extra: {} });
  });

  it('round-trips through the HF field names, extra fields included', () => {
    for (const c of [gpt2(), bert(), parseModelConfig({ ...GPT2_HF, n_inner: 12, activation_function: 'gelu_pytorch_tanh' }, 'c')]) {
      const hf = JSON.parse(JSON.stringify(toHfConfig(c))) as unknown;
      expect(parseModelConfig(hf, 'again')).to.deep.equal(c);
    }
    expect(toHfConfig(gpt2())).to.deep.include({ n_embd: 4, n_layer: 2, n_inner: null, architectures: ['GPT2LMHeadModel'] });
  });

  it('names the file and the JSON path of a bad field', () => {
    expect(messageOfSync(() => parseModelConfig({ ...GPT2_HF, n_layer: '2' }, 'm/config.json'))).to.include('m/config.json').and.include('$.n_layer').and.include('positive integer');
    expect(messageOfSync(() => parseModelConfig({ ...BERT_HF, hidden_size: undefined }, 'b.json'))).to.include('$.hidden_size').and.include('missing');
    expect(messageOfSync(() => parseModelConfig({ ...GPT2_HF, layer_norm_epsilon: -1 }, 'c'))).to.include('$.layer_norm_epsilon');
    expect(messageOfSync(() => parseModelConfig({ model_type: 'llama' }, 'c'))).to.include('"llama"').and.include('gpt2, bert');
    expect(messageOfSync(() => parseModelConfig([], 'c'))).to.include('$');
  });

  it('rejects unsupported activations and variants, and indivisible heads', () => {
    expect(messageOfSync(() => parseModelConfig({ ...GPT2_HF, activation_function: 'relu' }, 'c'))).to.include('$.activation_function').and.include('"relu"').and.include('gelu_new');
    expect(messageOfSync(() => parseModelConfig({ ...BERT_HF, hidden_act: 'relu' }, 'c'))).to.include('$.hidden_act').and.include('"relu"');
    expect(messageOfSync(() => parseModelConfig({ ...GPT2_HF, n_head: 3 }, 'c'))).to.include('n_embd (4) is not divisible by n_head (3)');
    expect(messageOfSync(() => parseModelConfig({ ...BERT_HF, num_attention_heads: 3 }, 'c'))).to.include('hidden_size (4) is not divisible by num_attention_heads (3)');
    expect(messageOfSync(() => parseModelConfig({ ...BERT_HF, position_embedding_type: 'relative_key' }, 'c'))).to.include('$.position_embedding_type');
    expect(parseModelConfig({ ...BERT_HF, position_embedding_type: 'absolute' }, 'c').kind).to.equal('bert');
  });
});

describe('checkpoints', () => {
  let root: string;
  before(async () => { root = await mkdtemp(join(tmpdir(), 'pg-ckpt-')); });
  after(async () => { await rm(root, { recursive: true, force: true }); });

  it('lists the HF tensor names and shapes', () => {
    const g = expectedGpt2Tensors(gpt2());
    expect(g.size).to.equal(2 + 2 * 12 + 2);
    expect(g.get('h.1.attn.c_attn.weight')).to.deep.equal([4, 12]);
    expect(g.get('h.0.mlp.c_fc.weight')).to.deep.equal([4, 16]);
    expect(g.get('h.0.mlp.c_proj.weight')).to.deep.equal([16, 4]);
    const b = expectedBertTensors(bert());
    expect(b.size).to.equal(5 + 16 + 2 + 4 + 1);
    expect(b.get('encoder.layer.0.intermediate.dense.weight')).to.deep.equal([6, 4]);
    expect(b.get('encoder.layer.0.output.dense.weight')).to.deep.equal([4, 6]);
    expect(b.get('cls.predictions.bias')).to.deep.equal([13]);
  });

  for (const [kind, config] of [['GPT-2', gpt2], ['BERT', bert]] as const) {
    it(`saves and loads a ${kind} checkpoint unchanged`, async () => {
      const c = config();
      const shapes = c.kind === 'gpt2' ? expectedGpt2Tensors(c) : expectedBertTensors(c);
      const tensors = randomWeights(shapes);
      const dir = join(root, `rt-${c.kind}`, 'nested');
      await saveCheckpoint(dir, c, tensors);
      expect((await readdir(dir)).sort()).to.deep.equal(['config.json', 'model.safetensors']);
      const hf = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(hf.model_type).to.equal(c.kind);
      const loaded = await loadCheckpoint(dir);
      expect(loaded.config).to.deep.equal(c);
      expect(loaded.dir).to.equal(dir);
      expect(loaded.dropped).to.deep.equal([]);
      expect(new Map([...loaded.tensors].sort())).to.deep.equal(new Map([...tensors].sort()));
    });
  }

  it('reports missing, unexpected and misshapen tensors together', async () => {
    const c = gpt2();
    const tensors = randomWeights(expectedGpt2Tensors(c));
    tensors.delete('h.1.ln_2.bias');
    tensors.delete('wpe.weight');
    tensors.set('h.0.extra.weight', randomTensor([2], 9));
    tensors.set('h.0.attn.c_attn.weight', randomTensor([4, 8], 9));
    tensors.set('ln_f.bias', randomTensor([4], 9, { dtype: 'i32' }));
    const message = messageOfSync(() => checkTensors(tensors, expectedGpt2Tensors(c), 'x/model.safetensors'));
    expect(message).to.include('x/model.safetensors');
    expect(message).to.include('missing (2): wpe.weight [8,4]; h.1.ln_2.bias [4]');
    expect(message).to.include('unexpected (1): h.0.extra.weight [2]');
    expect(message).to.include('wrong shape (1): h.0.attn.c_attn.weight: expected [4,12], found [4,8]');
    expect(message).to.include('wrong dtype (1): ln_f.bias');
    // saving checks first, so nothing is written
    expect(await messageOf(saveCheckpoint(join(root, 'never'), c, tensors))).to.include('missing (2)');
    expect(await readdir(root)).to.not.include('never');
    // and loading checks the same way
    const dir = join(root, 'bad');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(GPT2_HF));
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const loadMessage = await messageOf(loadCheckpoint(dir));
    expect(loadMessage).to.include(join(dir, 'model.safetensors')).and.include('missing (2)').and.include('unexpected (1)').and.include('wrong shape (1)');
  });

  it('treats the BERT pooler as optional', async () => {
    const c = bert();
    const tensors = randomWeights(expectedBertTensors(c));
    tensors.delete('pooler.dense.weight');
    tensors.delete('pooler.dense.bias');
    await saveCheckpoint(join(root, 'nopool'), c, tensors);
    expect((await loadCheckpoint(join(root, 'nopool'))).tensors.size).to.equal(tensors.size);
  });

  it('refuses pickled weights with the conversion one-liner', async () => {
    const dir = join(root, 'pickled');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(GPT2_HF));
    await writeFile(join(dir, 'pytorch_model.bin'), 'not really a pickle');
    const message = await messageOf(loadCheckpoint(dir));
    expect(message).to.include('pytorch_model.bin').and.include('from safetensors.torch import save_file').and.include(join(dir, 'model.safetensors'));
    await rm(join(dir, 'pytorch_model.bin'));
    expect(await messageOf(loadCheckpoint(dir))).to.include('no model.safetensors');
  });

  it('names the JSON path of a bad config.json field', async () => {
    const dir = join(root, 'badconfig');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...GPT2_HF, n_layer: 'two' }));
    const message = await messageOf(loadCheckpoint(dir));
    expect(message).to.include(join(dir, 'config.json')).and.include('$.n_layer');
    expect(await messageOf(loadCheckpoint(join(root, 'nowhere')))).to.include('config.json');
  });

  it('strips transformer. prefixes and drops buffers and the tied LM head', async () => {
    const c = gpt2();
    const tensors = randomWeights(expectedGpt2Tensors(c));
    const file = new Map<string, HostTensor>([...tensors].map(([k, v]) => [`transformer.${k}`, v]));
    file.set('lm_head.weight', tensors.get('wte.weight')!);
    file.set('transformer.h.0.attn.bias', randomTensor([1, 1, 8, 8], 5));
    const dir = join(root, 'prefixed');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(GPT2_HF));
    await writeSafetensors(join(dir, 'model.safetensors'), file);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.tensors.get('h.0.attn.c_attn.weight')).to.deep.equal(tensors.get('h.0.attn.c_attn.weight'));
    expect(new Map([...loaded.tensors].sort())).to.deep.equal(new Map([...tensors].sort()));
    expect([...loaded.dropped].sort()).to.deep.equal(['lm_head.weight', 'transformer.h.0.attn.bias']);
  });

  it('keeps an untied GPT-2 head so it is reported, and takes a lone head as wte', async () => {
    const c = gpt2();
    const tensors = randomWeights(expectedGpt2Tensors(c));
    const dir = join(root, 'heads');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(GPT2_HF));
    await writeSafetensors(join(dir, 'model.safetensors'), new Map([...tensors, ['lm_head.weight', randomTensor([11, 4], 77)]]));
    expect(await messageOf(loadCheckpoint(dir))).to.include('unexpected (1): lm_head.weight [11,4]');
    const lone = new Map(tensors);
    lone.delete('wte.weight');
    lone.set('lm_head.weight', tensors.get('wte.weight')!);
    await writeSafetensors(join(dir, 'model.safetensors'), lone);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.tensors.get('wte.weight')).to.deep.equal(tensors.get('wte.weight'));
    expect(loaded.tensors.has('lm_head.weight')).to.equal(false);
  });

  it('strips bert. prefixes, keeps cls.* names, drops position_ids, NSP head and tied decoder', async () => {
    const c = bert();
    const tensors = randomWeights(expectedBertTensors(c));
    const file = new Map<string, HostTensor>([...tensors].map(([k, v]) => [k.startsWith('cls.') ? k : `bert.${k}`, v]));
    file.set('cls.predictions.decoder.weight', tensors.get('embeddings.word_embeddings.weight')!);
    file.set('cls.predictions.decoder.bias', tensors.get('cls.predictions.bias')!);
    file.set('cls.seq_relationship.weight', randomTensor([2, 4], 3));
    file.set('bert.embeddings.position_ids', { shape: [1, 8], dtype: 'i32', data: Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]) });
    const dir = join(root, 'bert-prefixed');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(BERT_HF));
    await writeSafetensors(join(dir, 'model.safetensors'), file);
    const loaded = await loadCheckpoint(dir);
    expect(new Map([...loaded.tensors].sort())).to.deep.equal(new Map([...tensors].sort()));
    expect(loaded.dropped).to.have.length(4);
  });

  it('refuses two names for one tensor after prefix stripping', async () => {
    const c = gpt2();
    const tensors = randomWeights(expectedGpt2Tensors(c));
    const dir = join(root, 'dupe');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify(GPT2_HF));
    await writeSafetensors(join(dir, 'model.safetensors'), new Map([...tensors, ['transformer.wpe.weight', tensors.get('wpe.weight')!]]));
    expect(await messageOf(loadCheckpoint(dir))).to.include('"transformer.wpe.weight"').and.include('"wpe.weight"');
  });
});
