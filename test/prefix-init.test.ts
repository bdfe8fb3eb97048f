import { expect } from 'chai';
import { applySpec, buildBackbone, CpuExecutor, hostTensor, initParams, PREFIX } from '../src/index.js';
import { prefixFromActivations } from '../src/pipelines/prefix-init.js';
import { backbone } from './methods-harness.js';
import { expectClose } from './helpers.js';

describe('prefix init from the frozen LM\'s activations on real words', () => {
  it('a prefix made from words W makes GPT-2 continue x exactly as it continues "W x"', () => {
    const { config, weights } = backbone('gpt2');
    const words = [7, 21, 3], x = [11, 5, 30, 2];
    const prefix = prefixFromActivations(config, weights, words);
    expect([...prefix.shape]).to.deep.equal([3, config.layers * 2 * config.dim]);
    // With positions shifted (as Hugging Face does with past keys/values), x sits at 3..6.
    const r = applySpec(buildBackbone(config, { batch: 1, seq: x.length, labels: false }), { method: 'prefix-tuning', length: 3, reparam: null });
    const params = initParams(r.graph, 0, new Map([...weights, [PREFIX.direct, prefix]]));
    const withPrefix = new CpuExecutor('f32').runSync(r.graph, {
      input_ids: hostTensor([1, 4], 'i32', x), attention_mask: hostTensor([1, 4], 'i32', [1, 1, 1, 1]),
    }, params).get('logits')!;
    const full = new CpuExecutor('f32').runSync(buildBackbone(config, { batch: 1, seq: 7, labels: false }), {
      input_ids: hostTensor([1, 7], 'i32', [...words, ...x]), attention_mask: hostTensor([1, 7], 'i32', new Array(7).fill(1)),
    }, weights).get('logits')!;
    const tail = hostTensor([1, 4, config.vocabSize], 'f32', full.data.slice(3 * config.vocabSize));
    expectClose(withPrefix, tail, { rel: 1e-5, abs: 1e-5 }, 'logits with the activation prefix vs with the real words');
  });
});

describe('initText in a prefix-tuning spec', () => {
  it('the pipeline starts the prefix from the words\' activations', async () => {
    const { loadModel, prepare } = await import('../src/pipelines/run.js');
    const { specBuilder } = await import('../src/pipelines/spec.js');
    const model = await loadModel({ bundled: 'gpt2-world' });
    const text = 'table to text :';
    const n = model.tokenizer.encode(text).length;
    const spec = specBuilder('init').model({ bundled: 'gpt2-world' })
      .method({ method: 'prefix-tuning', length: n, reparam: null, initText: text })
      .task({ kind: 'lm', train: { format: 'world', split: 'train', limit: 4 } })
      .training({ lr: 0.01, batchSize: 1, maxLength: 8 }).build();
    const p = prepare(spec, model, { batch: 1, seq: 8 });
    const want = prefixFromActivations(model.config, model.weights, model.tokenizer.encode(text));
    expect(Array.from(p.params.get(PREFIX.direct)!.data)).to.deep.equal(Array.from(want.data));
    expect(() => prepare({ ...spec, methods: [{ method: 'prefix-tuning', length: n + 1, reparam: null, initText: text }] }, model, { batch: 1, seq: 8 }))
      .to.throw(/initText "table to text :" is \d+ tokens, length is \d+/);
  });
});
