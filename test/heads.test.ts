import { expect } from 'chai';
import {
  applySpec, compose, findAll, hostTensor, randomTensor, buildBackbone, randomWeights, DecodeError, MethodError, POINTS,
  type Feeds, type Graph, type HostTensor, type MethodResult, type ParamStore,
} from '../src/index.js';
import { backbone, batch, paramsFor, gradients, tinyConfig, trainOnDevice, B, S } from './methods-harness.js';
import { checkFiniteDifferences, forward, type Kind } from './baselines-harness.js';
import { expectClose } from './helpers.js';

const D = 16;

/** Feeds without the LM labels (heads drop the LM loss), plus the given head labels. */
function feedsFor(kind: Kind, extra: Record<string, HostTensor>, mask?: number[]): Feeds {
  const { labels: _lm, ...f } = batch(kind);
  return { ...f, ...(mask ? { attention_mask: hostTensor([B, S], 'i32', mask) } : {}), ...extra };
}

/** Head parameters set to values far from their init, so the bias and every weight matter. */
function withHeadParams(r: MethodResult, weights: ParamStore, name = 'head'): ParamStore {
  const params = paramsFor(r, weights);
  for (const what of ['weight', 'bias']) {
    const k = `${name}.dense.${what}`;
    params.set(k, randomTensor(params.get(k)!.shape, what === 'weight' ? 11 : 12, { scale: 0.5 }));
  }
  return params;
}

/** The graph plus an output `hidden` reading the hidden_states point. */
function exposeHidden(g: Graph): Graph {
  const c = g.clone();
  c.setOutput('hidden', findAll(c, { op: 'mark', attrs: { point: POINTS.hiddenStates } })[0].id);
  return c;
}

/** W·x + b for one feature row (f64). */
function dense(params: ParamStore, x: ArrayLike<number>, xOff: number, classes: number): number[] {
  const W = params.get('head.dense.weight')!.data, bias = params.get('head.dense.bias')!.data;
  return Array.from({ length: classes }, (_, c) => {
    let s = bias[c];
    for (let d = 0; d < D; d++) s += W[c * D + d] * x[xOff + d];
    return s;
  });
}

const ce = (logits: readonly number[], label: number): number => {
  const m = Math.max(...logits);
  return Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0)) + m - logits[label];
};
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const ratio = (l: number[]): number => l[0] / l[l.length - 1];

describe('task heads', () => {
  describe('outputs and shapes', () => {
    const tasks = [
      { task: 'sequence-classification', labels: 3, outputs: { 'head.logits': [B, 3] } },
      { task: 'token-classification', labels: 5, outputs: { 'head.logits': [B, S, 5] } },
      { task: 'question-answering', outputs: { 'head.start_logits': [B, S], 'head.end_logits': [B, S] } },
    ] as const;
    for (const kind of ['gpt2', 'bert'] as const) {
      for (const t of tasks) {
        it(`${t.task} on ${kind}: ${Object.entries(t.outputs).map(([k, v]) => `${k} [${v.join(',')}]`).join(', ')}; the LM loss is gone`, () => {
          const { outputs: _o, ...spec } = t;
          const r = applySpec(backbone(kind).graph, { method: 'head', ...spec });
          for (const [k, shape] of Object.entries(t.outputs)) expect([...r.graph.output(k).type.shape], k).to.deep.equal(shape);
          expect(r.trainable).to.deep.equal(['head.dense.weight', 'head.dense.bias']);
          expect(r.graph.outputs.has('logits')).to.equal(false);
          expect(r.graph.inputs().map((n) => n.attrs.name)).to.not.include('labels');
          expect(r.graph.params().some((p) => String(p.attrs.name).startsWith('cls.'))).to.equal(false);
        });
      }
    }
  });

  describe('loss values against a hand computation (CPU executor)', () => {
    it('GPT-2 sequence classification reads the last non-padding position (right- and left-padded rows)', () => {
      const bb = backbone('gpt2');
      const r = applySpec(bb.graph, { method: 'head', task: 'sequence-classification', labels: 3 });
      const params = withHeadParams(r, bb.weights);
      const mask = [1, 1, 1, 1, 1, 1, 0, 0, /* left-padded */ 0, 0, 1, 1, 1, 1, 1, 1];
      const labels = [2, 0];
      const out = forward(exposeHidden(r.graph), feedsFor('gpt2', { 'head.labels': hostTensor([B], 'i32', labels) }, mask), params, ['hidden', 'head.logits', 'loss']);
      const h = out.get('hidden')!.data;
      const logits = [5, 7].map((last, b) => dense(params, h, (b * S + last) * D, 3));
      expectClose(out.get('head.logits')!, hostTensor([B, 3], 'f32', logits.flat()), { rel: 1e-5, abs: 1e-6 }, 'logits');
      expectClose(out.get('loss')!, hostTensor([], 'f32', [mean(logits.map((l, b) => ce(l, labels[b])))]), { rel: 1e-5 }, 'loss');
    });

    it('BERT sequence classification reads the pooled output', () => {
      const bb = backbone('bert');
      const r = applySpec(bb.graph, { method: 'head', task: 'sequence-classification', labels: 4 });
      const params = withHeadParams(r, bb.weights);
      const labels = [3, 1];
      const out = forward(r.graph, feedsFor('bert', { 'head.labels': hostTensor([B], 'i32', labels) }), params, ['pooled', 'loss']);
      const logits = [0, 1].map((b) => dense(params, out.get('pooled')!.data, b * D, 4));
      expectClose(out.get('loss')!, hostTensor([], 'f32', [mean(logits.map((l, b) => ce(l, labels[b])))]), { rel: 1e-5 }, 'loss');
    });

    it('BERT token classification averages over counted positions (-100 skipped)', () => {
      const bb = backbone('bert');
      const r = applySpec(bb.graph, { method: 'head', task: 'token-classification', labels: 5 });
      const params = withHeadParams(r, bb.weights);
      const labels = Array.from({ length: B * S }, (_, i) => (i % 3 === 0 ? -100 : i % 5));
      const out = forward(exposeHidden(r.graph), feedsFor('bert', { 'head.labels': hostTensor([B, S], 'i32', labels) }), params, ['hidden', 'loss', 'head.label_count']);
      const terms = labels.flatMap((l, i) => (l === -100 ? [] : [ce(dense(params, out.get('hidden')!.data, i * D, 5), l)]));
      expect(out.get('head.label_count')!.data[0]).to.equal(terms.length);
      expectClose(out.get('loss')!, hostTensor([], 'f32', [mean(terms)]), { rel: 1e-5 }, 'loss');
    });

    it('GPT-2 question answering: (CE(start) + CE(end)) / 2', () => {
      const bb = backbone('gpt2');
      const r = applySpec(bb.graph, { method: 'head', task: 'question-answering' });
      const params = withHeadParams(r, bb.weights);
      const start = [1, 4], end = [3, 6];
      const feeds = feedsFor('gpt2', { 'head.start': hostTensor([B], 'i32', start), 'head.end': hostTensor([B], 'i32', end) });
      const out = forward(exposeHidden(r.graph), feeds, params, ['hidden', 'loss', 'head.start_logits']);
      const rows = [0, 1].map((b) => Array.from({ length: S }, (_, s) => dense(params, out.get('hidden')!.data, (b * S + s) * D, 2)));
      expectClose(out.get('head.start_logits')!, hostTensor([B, S], 'f32', rows.flatMap((r2) => r2.map((v) => v[0]))), { rel: 1e-5, abs: 1e-6 }, 'start logits');
      const want = mean([0, 1].map((b) => (ce(rows[b].map((v) => v[0]), start[b]) + ce(rows[b].map((v) => v[1]), end[b])) / 2));
      expectClose(out.get('loss')!, hostTensor([], 'f32', [want]), { rel: 1e-5 }, 'loss');
    });

    it('keepLmLoss keeps logits and adds the LM loss: loss = lm_loss + head.loss', () => {
      const bb = backbone('gpt2');
      const r = applySpec(bb.graph, { method: 'head', task: 'sequence-classification', labels: 2, keepLmLoss: true });
      const out = forward(r.graph, { ...batch('gpt2'), 'head.labels': hostTensor([B], 'i32', [1, 0]) }, paramsFor(r, bb.weights), ['loss', 'lm_loss', 'head.loss', 'logits']);
      expect(out.get('loss')!.data[0]).to.be.closeTo(out.get('lm_loss')!.data[0] + out.get('head.loss')!.data[0], 1e-5);
    });
  });

  describe('training', () => {
    it('a frozen GPT-2 with a sequence-classification head: WebGPU gradients equal CPU; the loss falls 100x in 40 steps', async () => {
      const bb = backbone('gpt2');
      const r = applySpec(bb.graph, { method: 'head', task: 'sequence-classification', labels: 3 });
      const params = paramsFor(r, bb.weights);
      const feeds = feedsFor('gpt2', { 'head.labels': hostTensor([B], 'i32', [2, 0]) });
      const g = await gradients(r, params, feeds);
      for (const n of g.names) expectClose(g.gpu.get(n)!, g.cpu.get(n)!, { rel: 1e-3, abs: 1e-5 }, `webgpu ${n}`);
      checkFiniteDifferences(r, params, feeds);
      // Measured 1.14 -> 1.9e-4 (5900x): two examples are easy to separate.
      const { losses } = await trainOnDevice(r, params, feeds, 40, 0.05);
      expect(ratio(losses), `loss ${losses[0]} -> ${losses[losses.length - 1]}`).to.be.at.least(100);
    });

    it('P-tuning v2 + token-classification head on BERT: the loss falls 10x in 40 steps, backbone bit-identical', async () => {
      const bb = backbone('bert');
      const r = compose(bb.graph, [{ method: 'p-tuning-v2', length: 3 }, { method: 'head', task: 'token-classification', labels: 5, name: 'ner' }]);
      expect(r.trainable).to.have.members(['prefix.embeddings', 'ner.dense.weight', 'ner.dense.bias']);
      const params = paramsFor(r, bb.weights);
      const labels = Array.from({ length: B * S }, (_, i) => ((i % S) >= 6 && i < S ? -100 : i % 5));
      const feeds = feedsFor('bert', { 'ner.labels': hostTensor([B, S], 'i32', labels) });
      // Measured 1.62 -> 0.041 (39x).
      const { losses, final } = await trainOnDevice(r, params, feeds, 40, 0.05);
      expect(ratio(losses), `loss ${losses[0]} -> ${losses[losses.length - 1]}`).to.be.at.least(10);
      // The MLM head is gone from the graph (nothing reads it); every backbone weight left is frozen.
      const kept = [...bb.weights].filter(([name]) => final.has(name));
      expect(kept.length).to.equal(bb.weights.size - 5);
      for (const [name, w] of kept) expect(Array.from(final.get(name)!.data), name).to.deep.equal(Array.from(w.data.map(Math.fround)));
    });
  });

  describe('multi-task: one head per task on a shared backbone and prompt', () => {
    // Four examples: 0, 2, 3 are classification, 1 is question answering.
    const config = tinyConfig('bert');
    const graph = buildBackbone(config, { batch: 4, seq: S });
    const weights = randomWeights(config, 5, 0.2);
    const r = compose(graph, [
      { method: 'p-tuning-v2', length: 2 },
      { method: 'head', task: 'sequence-classification', labels: 3, name: 'cls' },
      { method: 'head', task: 'question-answering', name: 'qa' },
    ]);
    const params = paramsFor(r, weights);
    const I = -100;
    const feeds = (cls: number[], start: number[], end: number[]): Feeds => ({
      input_ids: randomTensor([4, S], 3, { dtype: 'i32', low: 1, high: 40 }),
      attention_mask: hostTensor([4, S], 'i32', new Array(4 * S).fill(1)),
      token_type_ids: hostTensor([4, S], 'i32', new Array(4 * S).fill(0)),
      'cls.labels': hostTensor([4], 'i32', cls), 'qa.start': hostTensor([4], 'i32', start), 'qa.end': hostTensor([4], 'i32', end),
    });
    const mixed = feeds([2, I, 0, 1], [I, 3, I, I], [I, 5, I, I]);

    it('a mixed batch\'s loss is the mean over examples of each one\'s own task loss', () => {
      expect(r.trainable).to.have.members(['prefix.embeddings', 'cls.dense.weight', 'cls.dense.bias', 'qa.dense.weight', 'qa.dense.bias']);
      const loss = forward(r.graph, mixed, params, ['loss']).get('loss')!.data[0];
      const own = [
        forward(r.graph, feeds([2, I, I, I], [I, I, I, I], [I, I, I, I]), params, ['cls.loss']).get('cls.loss')!.data[0],
        forward(r.graph, feeds([I, I, I, I], [I, 3, I, I], [I, 5, I, I]), params, ['qa.loss']).get('qa.loss')!.data[0],
        forward(r.graph, feeds([I, I, 0, I], [I, I, I, I], [I, I, I, I]), params, ['cls.loss']).get('cls.loss')!.data[0],
        forward(r.graph, feeds([I, I, I, 1], [I, I, I, I], [I, I, I, I]), params, ['cls.loss']).get('cls.loss')!.data[0],
      ];
      expect(loss).to.be.closeTo(mean(own), 1e-6 * Math.abs(loss));
      // Not the unweighted mean of the two task losses.
      const perTask = forward(r.graph, mixed, params, ['cls.loss', 'qa.loss']);
      expect(Math.abs(loss - (perTask.get('cls.loss')!.data[0] + perTask.get('qa.loss')!.data[0]) / 2)).to.be.greaterThan(1e-4);
    });

    it('a batch with no counted label has loss 0, not NaN', () => {
      expect(forward(r.graph, feeds([I, I, I, I], [I, I, I, I], [I, I, I, I]), params, ['loss']).get('loss')!.data[0]).to.equal(0);
    });

    it('gradients of the combined loss: WebGPU equals CPU, finite differences (f64) agree; training lowers it 30x', async () => {
      const g = await gradients(r, params, mixed);
      for (const n of g.names) expectClose(g.gpu.get(n)!, g.cpu.get(n)!, { rel: 1e-3, abs: 1e-5 }, `webgpu ${n}`);
      checkFiniteDifferences(r, params, mixed);
      // Measured 1.34 -> 0.0030 (440x) in 30 steps at lr 0.05.
      const { losses } = await trainOnDevice(r, params, mixed, 30, 0.05);
      expect(ratio(losses), `loss ${losses[0]} -> ${losses[losses.length - 1]}`).to.be.at.least(30);
    });
  });

  describe('with prompt tuning', () => {
    it('token classification after prompt tuning has logits [B, S, C] for the original S, in either order', () => {
      const bb = backbone('bert');
      const a = compose(bb.graph, [{ method: 'prompt-tuning', length: 3 }, { method: 'head', task: 'token-classification', labels: 5 }]);
      const b = compose(bb.graph, [{ method: 'head', task: 'token-classification', labels: 5 }, { method: 'prompt-tuning', length: 3 }]);
      expect([...a.graph.output('head.logits').type.shape]).to.deep.equal([B, S, 5]);
      expect([...b.graph.output('head.logits').type.shape]).to.deep.equal([B, S, 5]);
      const feeds = feedsFor('bert', { 'head.labels': hostTensor([B, S], 'i32', new Array(B * S).fill(1)) });
      const params = paramsFor(a, bb.weights);
      const la = forward(a.graph, feeds, params, ['head.logits', 'loss']), lb = forward(b.graph, feeds, params, ['head.logits', 'loss']);
      expect(Array.from(la.get('head.logits')!.data)).to.deep.equal(Array.from(lb.get('head.logits')!.data));
      // The prompt really is in front: the logits differ from the head without it.
      const plain = applySpec(bb.graph, { method: 'head', task: 'token-classification', labels: 5 });
      expect(Array.from(forward(plain.graph, feeds, params, ['head.logits']).get('head.logits')!.data)).to.not.deep.equal(Array.from(la.get('head.logits')!.data));
    });
  });

  describe('bad input', () => {
    const g = backbone('gpt2').graph;
    it('fewer than 2 labels, or none, for classification', () => {
      expect(() => applySpec(g, { method: 'head', task: 'sequence-classification', labels: 1 })).to.throw(MethodError, /head: \(head 'head'\) sequence-classification needs labels >= 2 \(the number of classes\), got 1/);
      expect(() => applySpec(g, { method: 'head', task: 'token-classification' })).to.throw(MethodError, /token-classification needs labels >= 2 .*got none/);
      expect(() => applySpec(g, { method: 'head', task: 'question-answering', labels: 3 })).to.throw(MethodError, /question-answering has 2 outputs \(start, end\), got labels 3/);
    });
    it('an unknown task names the path and the tasks', () => {
      expect(() => applySpec(g, { method: 'head', task: 'summarization', labels: 2 })).to.throw(DecodeError, /\$\.task: expected .*sequence-classification.*question-answering.*got "summarization"/);
    });
    it('a graph without hidden_states', () => {
      const bad = g.clone();
      const m = findAll(bad, { op: 'mark', attrs: { point: POINTS.hiddenStates } })[0];
      m.attrs = { point: 'something_else' };
      expect(() => applySpec(bad, { method: 'head', task: 'token-classification', labels: 2 })).to.throw(MethodError, /head: the backbone must mark exactly one 'hidden_states' point, found 0/);
    });
    it('two heads with one name; a name with dots', () => {
      const r = applySpec(g, { method: 'head', task: 'sequence-classification', labels: 2 });
      expect(() => applySpec(r.graph, { method: 'head', task: 'token-classification', labels: 2 })).to.throw(MethodError, /a head named 'head' already exists/);
      expect(() => applySpec(g, { method: 'head', task: 'token-classification', labels: 2, name: 'a.b' })).to.throw(MethodError, /name 'a\.b' must be one identifier/);
    });
  });
});
