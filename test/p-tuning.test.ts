import { expect } from 'chai';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applySpec, compose, compile, optimizerFeeds, CpuExecutor, GpuExecutor, GraphBuilder, hostTensor, findAll, initParams, buildBackbone, bertTinyConfig, randomWeights,
  parseTemplate, applyTemplate, templateFeeds, templateOf, encoderParamNames, buildPromptEncoder, ENCODER_PARAMS, MethodError, TemplateError, POINTS,
  type MethodResult, type HostTensor, type ParamStore, type Graph, type Feeds, type Node, type EncoderKind,
} from '../src/index.js';
import { loadBertTokenizer, loadGpt2BpeTokenizer, type Tokenizer } from '../src/models/tokenizers/index.js';
import { backbone, batch, paramsFor, gradients, trainOnDevice, CpuProgram, B, S } from './methods-harness.js';
import { expectClose } from './helpers.js';
import { gpu } from './setup.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/tokenizers/', import.meta.url));
/** Row 0: virtual tokens at 1, 2, 4; row 1: at 0, 1, 5. */
const PROMPT_POSITIONS = hostTensor([B, S], 'i32', [-1, 0, 1, -1, 2, -1, -1, -1, 0, 1, -1, -1, -1, 2, -1, -1]);
// Measured (lavapipe, 40 steps): 1.55x (gpt2), 1.22x (bert). The floor is the tiny random LM's: one prompt
// is shared by examples with different answers, so only what the frozen LM reads off each input separates them.
const LAMA_STEPS = 40, LAMA_LR = 0.03;
const LAMA_FACTOR = { gpt2: 1.45, bert: 1.15 };

describe('P-tuning v1', () => {
  describe('templates', () => {
    let bert: Tokenizer;
    let bpe: Tokenizer;
    before(async () => {
      bert = await loadBertTokenizer(join(FIXTURES, 'bert-uncased'));
      bpe = await loadGpt2BpeTokenizer(join(FIXTURES, 'bpe'));
    });
    const id = (tok: Tokenizer, t: string): number => tok.tokenToId(t)!;

    it('parses virtual tokens, slots, anchors, [MASK] and escapes', () => {
      const t = parseTemplate('[P*3] {premise} [P*3] ? {hypothesis} [P] [MASK]');
      expect(t.virtualTokens).to.equal(7);
      expect(t.slots).to.deep.equal(['premise', 'hypothesis']);
      expect(t.items).to.deep.equal([
        { kind: 'virtual', count: 3 }, { kind: 'slot', name: 'premise', spaceBefore: true }, { kind: 'virtual', count: 3 },
        { kind: 'text', text: '?', spaceBefore: true }, { kind: 'slot', name: 'hypothesis', spaceBefore: true },
        { kind: 'virtual', count: 1 }, { kind: 'mask', spaceBefore: true },
      ]);
      expect(parseTemplate('{x}? \\[a\\] [MASK]').items).to.deep.equal([
        { kind: 'slot', name: 'x', spaceBefore: false }, { kind: 'text', text: '? [a]', spaceBefore: false }, { kind: 'mask', spaceBefore: true },
      ]);
    });

    it('rejects bad templates with the column and the fix', () => {
      const bad: [string, RegExp][] = [
        ['[FOO] {x} [MASK]', /unknown bracket form '\[FOO\]' at column 1 .*expected \[P\], \[P\*k\] or \[MASK\]/],
        ['{premise [MASK]', /unbalanced '\{' at column 1 .*no '\}' closes it/],
        ['premise} [MASK]', /unbalanced '\}' at column 8 .*nothing opens it/],
        ['[P*3 {x} [MASK]', /unbalanced '\[' at column 1/],
        ['[P*0] {x} [MASK]', /\[P\*0\] .*at least 1/],
        ['{} [MASK]', /bad slot name '\{\}'/],
        ['[P] {x}', /has 0 \[MASK\]; it needs exactly one/],
        ['[MASK] {x} [MASK]', /has 2 \[MASK\]/],
        ['a \\b [MASK]', /must escape one of/],
      ];
      for (const [src, re] of bad) expect(() => parseTemplate(src), src).to.throw(TemplateError, re);
    });

    it('applies to BERT: [CLS] wrap, placeholders with their indices, anchors, [MASK], right padding', () => {
      const e = applyTemplate('[P*2] {subject} [P] was [MASK] .', { subject: 'Hello world' }, bert, { maxLength: 12, virtualTokens: 3 });
      const unk = id(bert, '[UNK]');
      expect(e.input_ids).to.deep.equal([id(bert, '[CLS]'), unk, unk, id(bert, 'hello'), id(bert, 'world'), unk, id(bert, 'was'), id(bert, '[MASK]'), id(bert, '.'), id(bert, '[SEP]'), 0, 0]);
      expect(e.prompt_positions).to.deep.equal([-1, 0, 1, -1, -1, 2, -1, -1, -1, -1, -1, -1]);
      expect(e.attention_mask).to.deep.equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
      expect(e.mask_position).to.equal(7);
      expect([e.length, e.truncated]).to.deep.equal([10, 0]);
    });

    it('truncates slot text only, longest slot first, from its end', () => {
      const one = applyTemplate('[P*2] {subject} [P] was [MASK] .', { subject: 'hello world the cafe was' }, bert, { maxLength: 10 });
      expect(one.input_ids.slice(3, 6)).to.deep.equal([id(bert, 'hello'), id(bert, 'world'), id(bert, '[UNK]')]);
      expect([one.length, one.truncated, one.mask_position]).to.deep.equal([10, 3, 7]);
      // a: 4 tokens, b: 2 tokens, room for 4: a loses 2 (4 -> 3 -> 2), b keeps both.
      const two = applyTemplate('{a} [P] {b} [MASK]', { a: 'hello world the cafe', b: 'stop me' }, bert, { maxLength: 8 });
      expect(two.input_ids.map((i) => bert.idToToken(i))).to.deep.equal(['[CLS]', 'hello', 'world', '[UNK]', 'stop', 'me', '[MASK]', '[SEP]']);
      expect(two.truncated).to.equal(2);
      expect(() => applyTemplate('[P*8] {a} [MASK]', { a: 'x' }, bert, { maxLength: 8 })).to.throw(TemplateError, /alone takes 11 tokens .* more than maxLength 8/);
    });

    it('names the slot and the example\'s fields when a slot is missing; checks the virtual-token count', () => {
      expect(() => applyTemplate('{premise} ? {hypothesis} [MASK]', { premise: 'a', label: 'yes' }, bert, { maxLength: 16 }))
        .to.throw(TemplateError, /slot \{hypothesis\} is not a field of the example; its fields: premise, label/);
      expect(() => applyTemplate('[P*3] {x} [MASK]', { x: 'a' }, bert, { maxLength: 16, virtualTokens: 4 }))
        .to.throw(TemplateError, /has 3 virtual tokens, but the method has virtualTokens 4/);
    });

    it('applies to GPT-2: leading spaces, no mask token, the answer position is the last real token', () => {
      const e = applyTemplate('[P*2] {subject} is the capital of [MASK]', { subject: 'Paris ' }, bpe, { maxLength: 24, virtualTokens: 2 });
      const words = [...bpe.encode(' Paris'), ...bpe.encode(' is the capital of')];
      expect(words).to.deep.equal(bpe.encode(' Paris is the capital of')); // pieces join as the whole text would
      const ph = bpe.specialTokens.unk ?? bpe.specialTokens.pad ?? 0;
      expect(e.input_ids.slice(0, e.length)).to.deep.equal([ph, ph, ...words]);
      expect(e.prompt_positions.slice(0, 3)).to.deep.equal([0, 1, -1]);
      expect(e.mask_position).to.equal(e.length - 1);
      expect(() => applyTemplate('[MASK] is {x}', { x: 'a' }, bpe, { maxLength: 8 })).to.throw(TemplateError, /\[MASK\] must end the template/);
    });

    it('stacks examples into feeds', () => {
      const ex = ['hello', 'world the'].map((s) => applyTemplate('[P] {s} [MASK]', { s }, bert, { maxLength: 7 }));
      const f = templateFeeds(ex);
      expect(f.input_ids.shape).to.deep.equal([2, 7]);
      expect(Array.from(f.mask_position.data)).to.deep.equal([3, 4]);
      expect(Array.from(f.prompt_positions.data.slice(0, 7))).to.deep.equal([-1, 0, -1, -1, -1, -1, -1]);
    });
  });

  describe('prompt encoders', () => {
    const P = 4, D = 6;
    for (const kind of ['lstm', 'mlp', 'none'] as const) {
      it(`${kind}: WebGPU and the CPU executor match a plain-JS reference to 1e-5`, async () => {
        const b = new GraphBuilder();
        b.output('h', buildPromptEncoder(b, kind, P, D, 'normal:1'));
        const params = initParams(b.graph, 11);
        expect([...params.keys()].sort()).to.deep.equal(encoderParamNames(kind).sort());
        if (kind === 'lstm') {
          expect(params.get(ENCODER_PARAMS.lstm('weight_ih', 0, false))!.shape).to.deep.equal([4 * D / 2, D]);
          expect(params.get(ENCODER_PARAMS.lstm('weight_hh', 1, true))!.shape).to.deep.equal([4 * D / 2, D / 2]);
        }
        const want = hostTensor([P, D], 'f32', referenceEncoder(kind, params, P, D).flat());
        const cpu = new CpuExecutor('f32').runSync(b.graph, {}, params).get('h')!;
        const dev = (await new GpuExecutor(await gpu()).run(b.graph, {}, params)).get('h')!;
        expectClose(cpu, want, { rel: 1e-5, abs: 1e-5 }, 'cpu vs reference');
        expectClose(dev, want, { rel: 1e-5, abs: 1e-5 }, 'webgpu vs reference');
      });
    }
  });

  for (const kind of ['gpt2', 'bert'] as const) {
    describe(`p-tuning on ${kind}-tiny`, () => {
      const bb = backbone(kind);
      const spec = { method: 'p-tuning', virtualTokens: 3, encoder: 'lstm' };
      let r: MethodResult;
      let lama: MethodResult;
      before(() => {
        r = applySpec(bb.graph, spec);
        lama = compose(bb.graph, [spec, { method: 'verbalizer', vocabulary: true }]);
      });

      it('replaces the embeddings at placeholder positions with the encoder output, and only there', () => {
        const params = paramsFor(r, bb.weights);
        const feeds = { ...batch(kind), prompt_positions: PROMPT_POSITIONS };
        const g = r.graph.clone();
        const mark = findAll(g, { op: 'mark', attrs: { point: POINTS.inputEmbeds } })[0];
        const replaced = g.users(mark.id).find((n) => n.op === 'where')!;
        g.setOutput('embeds', replaced.id);
        g.setOutput('h', encoderOutput(g).id);
        const got = new CpuExecutor('f32').runSync(g, feeds, params, ['embeds', 'h']);
        const base = bb.graph.clone();
        base.setOutput('raw', findAll(base, { op: 'mark', attrs: { point: POINTS.inputEmbeds } })[0].id);
        const raw = new CpuExecutor('f32').runSync(base, batch(kind), bb.weights, ['raw']).get('raw')!;
        const [embeds, h] = [got.get('embeds')!, got.get('h')!];
        const D = h.shape[1];
        let replacedRows = 0;
        for (let p = 0; p < B * S; p++) {
          const k = PROMPT_POSITIONS.data[p];
          const row = Array.from(embeds.data.slice(p * D, (p + 1) * D));
          const want = k >= 0 ? h.data.slice(k * D, (k + 1) * D) : raw.data.slice(p * D, (p + 1) * D);
          expect(row, `position ${p}`).to.deep.equal(Array.from(want));
          if (k >= 0) replacedRows++;
        }
        expect(replacedRows).to.equal(6);
      });

      it('computes the encoder once per step: no encoder node depends on an input or has a batch axis', () => {
        const g = r.graph;
        const encoder = g.nodes.filter((n) => n.scope === 'prompt_encoder' || n.scope.startsWith('prompt_encoder.'));
        expect(encoder.length).to.be.greaterThan(100); // the unrolled LSTM
        const fromInput = dependsOnInput(g);
        for (const n of encoder) {
          expect(fromInput.has(n.id), `%${n.id} ${n.op}@${n.scope}`).to.equal(false);
          expect(n.type.shape.length, `%${n.id} ${n.op}@${n.scope}`).to.be.at.most(2);
        }
        expect(r.trainable).to.have.members(encoderParamNames('lstm'));
        for (const p of g.params()) expect(p.attrs.trainable === true, String(p.attrs.name)).to.equal(r.trainable.includes(String(p.attrs.name)));
        expect(g.inputs().map((n) => String(n.attrs.name))).to.include('prompt_positions');
        // For inference (nothing trains) the whole encoder folds into one [P, D] constant.
        const c = compile(g, { trainable: [], params: new Map(paramsFor(r, bb.weights)) });
        const left = c.graph.nodes.filter((n) => n.scope.startsWith('prompt_encoder'));
        expect(left.map((n) => `${n.op}[${n.type.shape.join(',')}]`)).to.deep.equal(['param[3,16]']);
      });

      it('WebGPU gradients equal the CPU executor, and agree with finite differences (LAMA loss)', async () => {
        const params = paramsFor(lama, bb.weights);
        const feeds = lamaFeeds(kind);
        const g = await gradients(lama, params, feeds);
        for (const n of g.names) expectClose(g.gpu.get(n)!, g.cpu.get(n)!, { rel: 1e-3, abs: 1e-5 }, `webgpu ${n}`);
        const lossGraph = compile(lama.graph, { trainable: lama.trainable, fuse: false }).graph;
        const f64 = new CpuExecutor('f64');
        const loss = (p: ParamStore): number => f64.runSync(lossGraph, feeds, p, ['loss']).get('loss')!.data[0];
        const grads64 = f64.runSync(compile(lama.graph, { train: true, optimizer: false, trainable: lama.trainable, fuse: false }).graph, feeds, params, lama.trainable.map((n) => `grad:${n}`));
        for (const name of lama.trainable) {
          const x = params.get(name)!;
          for (const k of [0, Math.floor(x.data.length / 2), x.data.length - 1]) {
            const eps = 1e-6;
            const at = (d: number): ParamStore => new Map(params).set(name, { ...x, data: x.data.map((v, i) => (i === k ? v + d : v)) });
            const fd = (loss(at(eps)) - loss(at(-eps))) / (2 * eps);
            const a = grads64.get(`grad:${name}`)!.data[k];
            expect(Math.abs(a - fd), `d loss/d ${name}[${k}]: ${a} vs ${fd}`).to.be.at.most(1e-6 * Math.max(1, Math.abs(fd)));
          }
        }
      });

      it(`LAMA probing with the LM frozen lowers the loss by ${LAMA_FACTOR[kind]}x; backbone weights bit-identical`, async () => {
        const params = paramsFor(lama, bb.weights);
        const { losses, final } = await trainOnDevice(lama, params, lamaFeeds(kind), LAMA_STEPS, LAMA_LR);
        const factor = losses[0] / losses[losses.length - 1];
        expect(factor, `loss ${losses[0]} -> ${losses[losses.length - 1]}`).to.be.at.least(LAMA_FACTOR[kind]);
        for (const [name, w] of bb.weights) expect(Array.from(final.get(name)!.data), name).to.deep.equal(Array.from(w.data.map(Math.fround)));
      });

      it('tuneLm unfreezes the backbone; mlp and none encoders have their own parameters', () => {
        const joint = applySpec(bb.graph, { ...spec, tuneLm: true });
        const lm = [...bb.weights.keys()].filter((n) => !n.startsWith('pooler.')); // no LM loss reaches BERT's pooler
        expect(joint.trainable).to.have.members([...lm, ...encoderParamNames('lstm')]);
        for (const p of joint.graph.params()) expect(p.attrs.trainable === true, String(p.attrs.name)).to.equal(joint.trainable.includes(String(p.attrs.name)));
        for (const encoder of ['mlp', 'none'] as EncoderKind[]) {
          const m = applySpec(bb.graph, { method: 'p-tuning', virtualTokens: 3, encoder });
          expect(m.trainable).to.have.members(encoderParamNames(encoder));
        }
      });
    });
  }

  describe('config', () => {
    it('checks the template against virtualTokens and returns it for the data side', () => {
      const bb = backbone('bert');
      const template = '[P*3] {premise} [P*3] ? {hypothesis} [P*3] [MASK]';
      expect(() => applySpec(bb.graph, { method: 'p-tuning', virtualTokens: 3, template })).to.throw(MethodError, /p-tuning: the template has 9 virtual tokens but virtualTokens is 3/);
      expect(() => applySpec(bb.graph, { method: 'p-tuning', virtualTokens: 1, template: '[P] [BAD] [MASK]' })).to.throw(MethodError, /p-tuning: unknown bracket form/);
      const r = applySpec(bb.graph, { method: 'p-tuning', virtualTokens: 9, template });
      expect(templateOf(r)).to.equal(template);
      expect(templateOf(applySpec(bb.graph, { method: 'p-tuning', virtualTokens: 9 }))).to.equal(undefined);
      expect(() => applySpec(bb.graph, { method: 'p-tuning', virtualTokens: 0 })).to.throw(MethodError, /virtualTokens must be >= 1/);
      expect(() => applySpec(bb.graph, { method: 'verbalizer', labelTokenIds: [[1], [40]] })).to.throw(MethodError, /label 1 has token id 40, outside the vocabulary of 40/);
    });
  });

  it('composes after prompt-tuning (prompt_positions index the real tokens), not before', () => {
    const bb = backbone('gpt2');
    const r = compose(bb.graph, [{ method: 'prompt-tuning', length: 2 }, { method: 'p-tuning', virtualTokens: 3 }, { method: 'verbalizer', vocabulary: true }]);
    const feeds = lamaFeeds('gpt2');
    const loss = new CpuExecutor('f32').runSync(r.graph, feeds, paramsFor(r, bb.weights), ['loss']).get('loss')!.data[0];
    expect(loss).to.be.greaterThan(0);
    expect(() => compose(bb.graph, [{ method: 'p-tuning', virtualTokens: 3 }, { method: 'prompt-tuning', length: 2 }])).to.throw(/p_tuning: shapes/);
  });

  describe('verbalizer', () => {
    const bb = backbone('bert');
    const cases: { name: string; cfg: Record<string, unknown>; labels: number[][] | null; label: number[] }[] = [
      { name: 'label words of different counts (mean of their logits)', cfg: { labelTokenIds: [[3], [5, 7], [11, 13, 17]] }, labels: [[3], [5, 7], [11, 13, 17]], label: [2, 0] },
      { name: 'label words of one count', cfg: { labelTokenIds: [[3, 4], [5, 6]] }, labels: [[3, 4], [5, 6]], label: [1, 1] },
      { name: 'the whole vocabulary (LAMA)', cfg: { vocabulary: true }, labels: null, label: [7, 19] },
    ];
    for (const c of cases) {
      it(`${c.name}: loss and label_logits equal a hand computation, on CPU and WebGPU`, async () => {
        const r = applySpec(bb.graph, { method: 'verbalizer', ...c.cfg });
        expect(r.graph.inputs().map((n) => String(n.attrs.name))).to.not.include('labels'); // the LM loss is gone
        const feeds: Feeds = { ...withoutLabels(batch('bert')), mask_position: hostTensor([B], 'i32', [5, 2]), label: hostTensor([B], 'i32', c.label) };
        const logits = new CpuExecutor('f64').runSync(bb.graph, batch('bert'), bb.weights, ['logits']).get('logits')!;
        const V = logits.shape[2];
        const scores = [5, 2].map((pos, b) => {
          const row = Array.from(logits.data.slice((b * S + pos) * V, (b * S + pos + 1) * V));
          return c.labels ? c.labels.map((ids) => ids.reduce((s, i) => s + row[i], 0) / ids.length) : row;
        });
        const ce = scores.reduce((s, z, b) => s + Math.log(z.reduce((t, v) => t + Math.exp(v), 0)) - z[c.label[b]], 0) / B;
        const cpu = new CpuExecutor('f64').runSync(r.graph, feeds, bb.weights, ['loss', 'label_logits']);
        const dev = await new GpuExecutor(await gpu()).run(r.graph, feeds, bb.weights, ['loss', 'label_logits']);
        const want = hostTensor([B, scores[0].length], 'f32', scores.flat());
        expectClose(cpu.get('label_logits')!, want, { rel: 1e-9, abs: 1e-9 }, 'cpu label_logits');
        expectClose(dev.get('label_logits')!, want, { rel: 1e-4, abs: 1e-5 }, 'webgpu label_logits');
        expect(cpu.get('loss')!.data[0]).to.be.closeTo(ce, 1e-9);
        expect(dev.get('loss')!.data[0]).to.be.closeTo(ce, 1e-4);
      });
    }
  });

  it('end to end: a BERT tokenizer, a template, p-tuning and a verbalizer; 30 steps lower the loss 1.3x', async () => {
    const tok = await loadBertTokenizer(join(FIXTURES, 'bert-uncased'));
    const config = bertTinyConfig({ vocabSize: tok.vocabSize, dim: 16, heads: 2, inner: 32, layers: 2, positions: 32 });
    const maxLength = 12;
    const graph = buildBackbone(config, { batch: 2, seq: maxLength });
    const template = '[P*2] {premise} ? [P*2] {hypothesis} [MASK]';
    const r = compose(graph, [
      { method: 'p-tuning', virtualTokens: 4, template },
      { method: 'verbalizer', labelTokenIds: [[tok.tokenToId('hello')!], [tok.tokenToId('world')!]] },
    ]);
    const examples = [{ premise: 'I saw the cafe', hypothesis: 'price was 5' }, { premise: 'stop me now', hypothesis: 'play in 東京' }];
    const feeds: Feeds = {
      ...templateFeeds(examples.map((e) => applyTemplate(templateOf(r)!, e, tok, { maxLength, virtualTokens: 4 }))),
      label: hostTensor([2], 'i32', [0, 1]),
    };
    // On the CPU reference (the device path is tested above): a cold device compile of new shapes costs seconds here.
    const params = paramsFor(r, randomWeights(config, 5, 0.2));
    const program = new CpuProgram(compile(r.graph, { train: true, trainable: r.trainable, params: new Map(params) }), params);
    const losses: number[] = [];
    for (let t = 1; t <= 30; t++) losses.push((await program.run({ ...feeds, ...optimizerFeeds(t, 0.05) }, ['loss'])).get('loss')!.data[0]);
    expect(losses.every(Number.isFinite)).to.equal(true);
    expect(losses[losses.length - 1], `${losses[0]} -> ${losses[losses.length - 1]}`).to.be.below(losses[0] / 1.3); // measured 1.43x
  });
});

// ---- fixtures and references ------------------------------------------------------------------


function withoutLabels(f: Feeds): Feeds {
  const { labels: _labels, ...rest } = f;
  return rest;
}

/** The answer is read at the last real token (GPT-2) or a chosen position (BERT); the LM loss is replaced. */
function lamaFeeds(kind: 'gpt2' | 'bert'): Feeds {
  return {
    ...withoutLabels(batch(kind)), prompt_positions: PROMPT_POSITIONS,
    mask_position: hostTensor([B], 'i32', [5, 7]), label: hostTensor([B], 'i32', [7, 19]),
  };
}

/** The encoder output: the table the p-tuning gather reads at prompt_positions. */
function encoderOutput(g: Graph): Node {
  const gather = findAll(g, { op: 'gather', where: (n) => g.node(n.inputs[1]).attrs.name === 'prompt_positions' });
  expect(gather.length).to.equal(1);
  return g.node(gather[0].inputs[0]);
}

function dependsOnInput(g: Graph): Set<number> {
  const s = new Set<number>();
  for (const n of g.nodes) if (n.op === 'input' || n.inputs.some((i) => s.has(i))) s.add(n.id);
  return s;
}

// A plain-JS P-tuning prompt encoder (PyTorch semantics), in float64.
type Mat = number[][];
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
function matrix(t: HostTensor): Mat {
  const [r, c] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
  return Array.from({ length: r }, (_, i) => Array.from(t.data.slice(i * c, (i + 1) * c)));
}
/** x Wᵀ + b for a [rows, in] x and nn.Linear's W [out, in]. */
function affine(x: Mat, w: Mat, bias: number[]): Mat {
  return x.map((row) => w.map((wr, o) => wr.reduce((s, v, k) => s + v * row[k], bias[o])));
}
function lstmDirection(x: Mat, p: ParamStore, layer: number, reverse: boolean, H: number): Mat {
  const get = (w: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh'): HostTensor => p.get(ENCODER_PARAMS.lstm(w, layer, reverse))!;
  const wIh = matrix(get('weight_ih')), wHh = matrix(get('weight_hh'));
  const bIh = Array.from(get('bias_ih').data), bHh = Array.from(get('bias_hh').data);
  const out: Mat = new Array<number[]>(x.length);
  let h = new Array<number>(H).fill(0), c = new Array<number>(H).fill(0);
  for (let s = 0; s < x.length; s++) {
    const t = reverse ? x.length - 1 - s : s;
    const z = affine([x[t]], wIh, bIh)[0].map((v, k) => v + affine([h], wHh, bHh)[0][k]);
    const i = z.slice(0, H).map(sigmoid), f = z.slice(H, 2 * H).map(sigmoid), g = z.slice(2 * H, 3 * H).map(Math.tanh), o = z.slice(3 * H).map(sigmoid);
    c = c.map((cv, k) => f[k] * cv + i[k] * g[k]);
    h = c.map((cv, k) => o[k] * Math.tanh(cv));
    out[t] = h;
  }
  return out;
}
function referenceEncoder(kind: EncoderKind, p: ParamStore, P: number, D: number): Mat {
  let x = matrix(p.get(ENCODER_PARAMS.embedding)!);
  expect(x.length).to.equal(P);
  if (kind === 'none') return x;
  if (kind === 'lstm') {
    for (let l = 0; l < 2; l++) {
      const fwd = lstmDirection(x, p, l, false, D / 2), bwd = lstmDirection(x, p, l, true, D / 2);
      x = fwd.map((row, t) => [...row, ...bwd[t]]);
    }
  }
  const lin = (v: Mat, k: 0 | 2): Mat => affine(v, matrix(p.get(ENCODER_PARAMS.mlp(k, 'weight'))!), Array.from(p.get(ENCODER_PARAMS.mlp(k, 'bias'))!.data));
  return lin(lin(x, 0).map((r) => r.map((v) => Math.max(0, v))), 2);
}
