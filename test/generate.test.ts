// Generation: the KV-cache decode graph against the whole-sequence graph, and the searches
// (greedy, beam, sampling) on top of both, on the CPU reference and on WebGPU.
import { expect } from 'chai';
import {
  buildGpt2, gpt2TinyConfig, bertTinyConfig, randomWeights, hostTensor, initParams, applySpec, compose, randomTensor, CpuExecutor,
  type HostTensor, type ParamStore, type Gpt2Config,
} from '../src/index.js';
import { buildGpt2DecodeStep, DECODE, DecodeStepError } from '../src/models/decode.js';
import {
  Generator, generate, greedy, beamSearch, sample, beamScore, logSoftmax, filteredDistribution, CachedStepModel, FullStepModel,
  Programs, type LanguageModel, type StepModel, type Generation,
} from '../src/pipelines/generate/index.js';
import { backbone } from './methods-harness.js';
import { expectClose } from './helpers.js';
import { gpu } from './setup.js';

const PROMPTS = [[5, 7, 9, 11], [3, 1, 4, 1]];
const NEW = 8;
const PREFIX = { method: 'prefix-tuning', length: 3, reparam: null, initStd: 0.5 };

const tiny = backbone('gpt2');
const base: LanguageModel = { config: tiny.config, weights: tiny.weights };

/** The model with a prefix-tuning prefix (random, large enough to change what is generated). */
function withPrefix(spec: Record<string, unknown> = PREFIX): LanguageModel {
  const r = applySpec(buildGpt2(tiny.config as Gpt2Config, { batch: 1, seq: 1, labels: false }), spec);
  return { config: tiny.config, weights: initParams(r.graph, 11, tiny.weights), methods: [{ method: String(spec.method), ...spec }] };
}

function cpuModels(model: LanguageModel, capacity = 16): { cached: CachedStepModel; full: FullStepModel; programs: Programs } {
  const programs = new Programs('cpu', model);
  return { cached: new CachedStepModel(programs, { capacity }), full: new FullStepModel(programs), programs };
}

/** Awaits a promise that must reject with an error matching `re` (and of class `cls`). */
async function rejects(p: Promise<unknown>, re: RegExp, cls: new (...args: never[]) => Error = Error): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, 'rejected').to.be.instanceOf(cls);
  expect((err as Error).message).to.match(re);
}

const tokensOf = (gens: readonly Generation[]): number[][] => gens.map((g) => g.tokens);

describe('generate: decode-step graphs', () => {
  const cfg = tiny.config as Gpt2Config;
  const run = (g: ReturnType<typeof buildGpt2>, feeds: Record<string, HostTensor>, params: ParamStore, names: string[]) =>
    new CpuExecutor('f32').runSync(g, feeds, params, names);
  const ids = [[5, 7, 9, 11, 2, 30, 8], [3, 1, 4, 1, 5, 9, 26]];
  const cols = (from: number, to: number): number[][] => ids.map((r) => r.slice(from, to));
  const i32 = (rows: number[][]): HostTensor => hostTensor([rows.length, rows[0].length], 'i32', rows.flat());
  const ones = (n: number): number[][] => ids.map(() => new Array<number>(n).fill(1));
  const range = (a: number, b: number): number[][] => ids.map(() => Array.from({ length: b - a }, (_, i) => a + i));
  const lastRow = (t: HostTensor, pos: number, S: number): HostTensor => {
    const [B, , V] = t.shape;
    const out: number[] = [];
    for (let b = 0; b < B; b++) out.push(...t.data.subarray((b * S + pos) * V, (b * S + pos + 1) * V));
    return hostTensor([B, V], 'f32', out);
  };

  it('a growing past (one graph per length) reproduces the full graph position by position', () => {
    const full = run(buildGpt2(cfg, { batch: 2, seq: 7, labels: false }), { input_ids: i32(ids), attention_mask: i32(ones(7)) }, tiny.weights, ['logits']).get('logits')!;
    const prefill = buildGpt2DecodeStep(cfg, { batch: 2, pastLength: 0, newTokens: 4 });
    const names = (pre: string) => Array.from({ length: cfg.layers }, (_, l) => [`${pre}.${l}.key`, `${pre}.${l}.value`]).flat();
    let out = run(prefill, { input_ids: i32(cols(0, 4)), position_ids: i32(range(0, 4)), attention_mask: i32(ones(4)) }, tiny.weights, [DECODE.nextLogits, ...names('present')]);
    expectClose(out.get(DECODE.nextLogits)!, lastRow(full, 3, 7), { rel: 1e-4, abs: 1e-5 }, 'prefill');
    for (let past = 4; past < 7; past++) {
      const g = buildGpt2DecodeStep(cfg, { batch: 2, pastLength: past, newTokens: 1 });
      expect(g.output(DECODE.present(0, 'key')).type.shape).to.deep.equal([2, cfg.heads, past + 1, cfg.dim / cfg.heads]);
      const pasts = Object.fromEntries(names('past').map((n) => [n, out.get(n.replace('past', 'present'))!]));
      out = run(g, { ...pasts, input_ids: i32(cols(past, past + 1)), position_ids: i32(range(past, past + 1)), attention_mask: i32(ones(past + 1)) },
        tiny.weights, [DECODE.nextLogits, ...names('present')]);
      expectClose(out.get(DECODE.nextLogits)!, lastRow(full, past, 7), { rel: 1e-4, abs: 1e-5 }, `step at ${past}`);
    }
  });

  it('the no-cache graph (positions from position_ids) gives the plain graph\'s last logits', () => {
    const plain = run(buildGpt2(cfg, { batch: 2, seq: 7, labels: false }), { input_ids: i32(ids), attention_mask: i32(ones(7)) }, tiny.weights, ['logits']).get('logits')!;
    const g = buildGpt2DecodeStep(cfg, { batch: 2, pastLength: 0, newTokens: 7, present: false });
    const out = run(g, { input_ids: i32(ids), position_ids: i32(range(0, 7)), attention_mask: i32(ones(7)) }, tiny.weights, [DECODE.nextLogits]);
    expectClose(out.get(DECODE.nextLogits)!, lastRow(plain, 6, 7), { rel: 1e-5, abs: 1e-6 });
  });

  it('refuses what it cannot decode: prompt tuning, a window too small, BERT', async () => {
    const pt = applySpec(buildGpt2(cfg, { batch: 1, seq: 2, labels: false }), { method: 'prompt-tuning', length: 2 });
    const model: LanguageModel = { config: cfg, weights: initParams(pt.graph, 1, tiny.weights), methods: [{ method: 'prompt-tuning', length: 2 }] };
    await rejects(generate(model, [[1, 2]], { device: 'cpu', strategy: 'greedy', maxNewTokens: 2 }), /prompt tuning/, DecodeStepError);
    expect(() => buildGpt2DecodeStep(cfg, { batch: 1, pastLength: 2, newTokens: 3, cache: 'window' })).to.throw(DecodeStepError, /window/);
    const bert = { config: bertTinyConfig(), weights: randomWeights(bertTinyConfig(), 1) };
    await rejects(generate(bert, [[1]], { device: 'cpu', strategy: 'greedy', maxNewTokens: 1 }), /causal LM/);
  });
});

describe('generate: greedy with and without the KV cache', () => {
  it('gives the same tokens and scores on the CPU, compiling 2 programs instead of one per length', async () => {
    const { cached, full, programs } = cpuModels(base);
    const a = await greedy(cached, PROMPTS, { maxNewTokens: NEW });
    expect(programs.stats.compiles).to.equal(2);
    const b = await greedy(full, PROMPTS, { maxNewTokens: NEW });
    expect(programs.stats.compiles).to.equal(2 + NEW);
    expect(tokensOf(a)).to.deep.equal(tokensOf(b));
    a.forEach((g, i) => expect(g.score).to.be.closeTo(b[i].score, 1e-4));
    expect(a[0].tokens).to.have.length(NEW);
  });

  it('left-pads prompts of different lengths so each row decodes as it would alone', async () => {
    const { cached, full } = cpuModels(base);
    const prompts = [[5, 7], [3, 1, 4, 1, 5, 9]];
    const together = tokensOf(await greedy(cached, prompts, { maxNewTokens: 6 }));
    expect(tokensOf(await greedy(full, prompts, { maxNewTokens: 6 }))).to.deep.equal(together);
    const fixed = new FullStepModel(new Programs('cpu', base), { length: 12 });
    expect(tokensOf(await greedy(fixed, prompts, { maxNewTokens: 6 })), 'one fixed-length program').to.deep.equal(together);
    for (let i = 0; i < prompts.length; i++) {
      expect(tokensOf(await greedy(cpuModels(base).cached, [prompts[i]], { maxNewTokens: 6 }))[0], `row ${i}`).to.deep.equal(together[i]);
    }
  });

  it('feeding the prompt token by token through the step program gives the same tokens', async () => {
    const programs = new Programs('cpu', base);
    const tokens = new CachedStepModel(programs, { capacity: 16, prefill: 'tokens' });
    expect(tokensOf(await greedy(tokens, PROMPTS, { maxNewTokens: NEW }))).to.deep.equal(tokensOf(await greedy(cpuModels(base).cached, PROMPTS, { maxNewTokens: NEW })));
    expect(programs.stats.compiles).to.equal(1);
  });

  it('gives the same tokens on WebGPU, with and without the cache, as on the CPU', async () => {
    const ctx = await gpu();
    const programs = new Programs('webgpu', base, ctx);
    const dev = await greedy(new CachedStepModel(programs, { capacity: 16 }), PROMPTS, { maxNewTokens: NEW });
    // Without the cache: one program at a fixed length (left-padded) rather than one per length.
    const devFull = await greedy(new FullStepModel(programs, { length: 12 }), PROMPTS, { maxNewTokens: NEW });
    const cpu = await greedy(cpuModels(base).full, PROMPTS, { maxNewTokens: NEW });
    expect(tokensOf(dev)).to.deep.equal(tokensOf(cpu));
    expect(tokensOf(devFull)).to.deep.equal(tokensOf(cpu));
    dev.forEach((g, i) => expect(g.score).to.be.closeTo(cpu[i].score, 1e-3));
    programs.release();
    expect(programs.stats.compiles, 'cached: prompt + step programs; no cache: one fixed-length program').to.equal(3);
  });

  it('keeps a prefix-tuning prefix in front of the cache (CPU, direct and reparameterized; WebGPU)', async () => {
    const plain = tokensOf(await greedy(cpuModels(base).full, PROMPTS, { maxNewTokens: NEW }));
    for (const spec of [PREFIX, { ...PREFIX, reparam: { hidden: 8 } }]) {
      const model = withPrefix(spec);
      const { cached, full } = cpuModels(model);
      const a = tokensOf(await greedy(cached, PROMPTS, { maxNewTokens: NEW }));
      expect(a, JSON.stringify(spec.reparam)).to.deep.equal(tokensOf(await greedy(full, PROMPTS, { maxNewTokens: NEW })));
      expect(a, 'the prefix changes the output').to.not.deep.equal(plain);
    }
    const model = withPrefix();
    const programs = new Programs('webgpu', model, await gpu());
    const dev = tokensOf(await greedy(new CachedStepModel(programs, { capacity: 16 }), PROMPTS, { maxNewTokens: NEW }));
    programs.release();
    expect(dev).to.deep.equal(tokensOf(await greedy(cpuModels(model).full, PROMPTS, { maxNewTokens: NEW })));
  });

  it('decodes a composition (prefix-tuning + LoRA): cached = uncached, and LoRA changes the output', async () => {
    const specs = [PREFIX, { method: 'lora', rank: 2 }];
    const r = compose(buildGpt2(tiny.config as Gpt2Config, { batch: 1, seq: 1, labels: false }), specs);
    // LoRA's B starts at zero: give it values so the LoRA path shows in the tokens.
    const weights = initParams(r.graph, 11, tiny.weights);
    for (const n of r.trainable.filter((x) => x.includes('lora_B'))) weights.set(n, randomTensor(weights.get(n)!.shape, 5, { scale: 0.5 }));
    const model: LanguageModel = { config: tiny.config, weights, methods: specs };
    const { cached, full } = cpuModels(model);
    const a = tokensOf(await greedy(cached, PROMPTS, { maxNewTokens: NEW }));
    expect(a).to.deep.equal(tokensOf(await greedy(full, PROMPTS, { maxNewTokens: NEW })));
    const prefixOnly = tokensOf(await greedy(cpuModels({ ...model, methods: [specs[0]] }).full, PROMPTS, { maxNewTokens: NEW }));
    expect(a, 'the LoRA part changes the output').to.not.deep.equal(prefixOnly);
  });

  it('stops a sequence at eos and pads it while the others continue', async () => {
    const free = tokensOf(await greedy(cpuModels(base).cached, PROMPTS, { maxNewTokens: NEW }));
    // Row 0's third token as eos: row 0 stops there (eos included); row 1 runs on unless it meets it.
    const eos = free[0][2];
    const stopped = tokensOf(await greedy(cpuModels(base).cached, PROMPTS, { maxNewTokens: NEW, eos }));
    expect(stopped[0]).to.deep.equal(free[0].slice(0, free[0].indexOf(eos) + 1));
    const cut = free[1].indexOf(eos);
    expect(stopped[1]).to.deep.equal(cut < 0 ? free[1] : free[1].slice(0, cut + 1));
  });

  it('refuses a stale cache and a full window', async () => {
    const { cached } = cpuModels(base, 5);
    const first = await cached.step(PROMPTS, null);
    const second = await cached.step([[1], [1]], first.cache);
    await rejects(cached.step([[1], [1]], first.cache), /stale/, DecodeStepError);
    await rejects(cached.step([[1], [1]], second.cache), /full/, DecodeStepError);
  });
});

describe('generate: beam search', () => {
  // vocab 6, 3 new tokens: 36 beams hold every 2-token prefix, so beam search is exhaustive.
  const cfg = gpt2TinyConfig({ vocabSize: 6, dim: 16, heads: 2, inner: 32, layers: 2, positions: 16 });
  const small: LanguageModel = { config: cfg, weights: randomWeights(cfg, 7, 0.5) };
  const prompt = [1, 4];

  /** Every sequence of up to n tokens (ending at eos or at n), with its HF score. */
  async function enumerate(n: number, eos: number, lp: number): Promise<Generation[]> {
    const model = new FullStepModel(new Programs('cpu', small));
    const out: Generation[] = [];
    let open: { tokens: number[]; sum: number }[] = [{ tokens: [], sum: 0 }];
    for (let t = 1; t <= n; t++) {
      const { logits } = await model.step(open.map((o) => [...prompt, ...o.tokens]), null);
      const next: typeof open = [];
      open.forEach((o, i) => logSoftmax(logits[i]).forEach((lp1, v) => {
        const s = { tokens: [...o.tokens, v], sum: o.sum + lp1 };
        if (v === eos || t === n) out.push({ tokens: s.tokens, score: beamScore(s.sum, t, lp) });
        else next.push(s);
      }));
      open = next;
    }
    return out.sort((a, b) => b.score - a.score);
  }

  for (const lengthPenalty of [1.0, 0.0, 2.0]) {
    it(`returns the highest-scoring sequence (exhaustive check, lengthPenalty ${lengthPenalty})`, async () => {
      const eos = 3;
      const all = await enumerate(3, eos, lengthPenalty);
      const programs = new Programs('cpu', small);
      const [beams] = await beamSearch(new CachedStepModel(programs, { capacity: 8 }), [prompt], { beams: 36, lengthPenalty, eos, maxNewTokens: 3, earlyStopping: 'never' });
      expect(beams[0].score).to.be.closeTo(all[0].score, 1e-5);
      expect(all.find((g) => g.tokens.join() === beams[0].tokens.join())!.score).to.be.closeTo(all[0].score, 1e-5);
      // The kept hypotheses are the best 36 sequences, best first, with their true scores.
      beams.forEach((h, i) => expect(h.score, `beam ${i}`).to.be.closeTo(all[i].score, 1e-5));
    });
  }

  it('with one beam equals greedy', async () => {
    const beams = await beamSearch(cpuModels(base).cached, PROMPTS, { beams: 1, maxNewTokens: NEW, lengthPenalty: 0 });
    const g = await greedy(cpuModels(base).cached, PROMPTS, { maxNewTokens: NEW });
    expect(beams.map((b) => b[0].tokens)).to.deep.equal(tokensOf(g));
    beams.forEach((b, i) => expect(b[0].score).to.be.closeTo(g[i].score, 1e-9));
  });

  it('reorders the device cache in-graph: WebGPU with cache equals the CPU without', async () => {
    const opts = { beams: 3, maxNewTokens: 6, eos: 16 };
    const cpu = await beamSearch(cpuModels(base).full, PROMPTS, opts);
    const programs = new Programs('webgpu', base, await gpu());
    const dev = await beamSearch(new CachedStepModel(programs, { capacity: 16 }), PROMPTS, opts);
    expect(programs.stats.compiles).to.equal(2);
    programs.release();
    expect(dev.map((b) => b.map((h) => h.tokens))).to.deep.equal(cpu.map((b) => b.map((h) => h.tokens)));
    dev.forEach((b, i) => b.forEach((h, k) => expect(h.score).to.be.closeTo(cpu[i][k].score, 1e-3)));
  });
});

describe('generate: sampling', () => {
  const run = <C>(model: StepModel<C>, opts: Partial<Parameters<typeof sample>[2]>) => sample(model, PROMPTS, { maxNewTokens: NEW, seed: 1, ...opts });

  it('is deterministic for a seed, and differs across seeds', async () => {
    const a = tokensOf(await run(cpuModels(base).cached, { seed: 42, temperature: 1.5 }));
    expect(tokensOf(await run(cpuModels(base).cached, { seed: 42, temperature: 1.5 }))).to.deep.equal(a);
    const others = await Promise.all([1, 2, 3].map(async (seed) => tokensOf(await run(cpuModels(base).cached, { seed, temperature: 1.5 }))));
    expect(others.some((o) => JSON.stringify(o) !== JSON.stringify(a))).to.equal(true);
    // Without the cache: the same draws from the same logits.
    expect(tokensOf(await run(cpuModels(base).full, { seed: 42, temperature: 1.5 }))).to.deep.equal(a);
  });

  it('top-k 1 and a tiny top-p equal greedy', async () => {
    const g = tokensOf(await greedy(cpuModels(base).cached, PROMPTS, { maxNewTokens: NEW }));
    expect(tokensOf(await run(cpuModels(base).cached, { topK: 1, temperature: 0.7 }))).to.deep.equal(g);
    expect(tokensOf(await run(cpuModels(base).cached, { topP: 1e-6 }))).to.deep.equal(g);
  });

  it('filters like Hugging Face: temperature, then top-k, then top-p', () => {
    const logits = Float64Array.from([Math.log(0.1), Math.log(0.5), Math.log(0.15), Math.log(0.25)]);
    expect(filteredDistribution(logits, { topK: 2 }).tokens).to.deep.equal([1, 3]);
    const p = filteredDistribution(logits, { topP: 0.7 });
    expect(p.tokens).to.deep.equal([1, 3]);
    p.probs.forEach((q, i) => expect(q).to.be.closeTo([0.5 / 0.75, 0.25 / 0.75][i], 1e-12));
    expect(filteredDistribution(logits, { topP: 0.76 }).tokens).to.deep.equal([1, 3, 2]);
    const hot = filteredDistribution(logits, { temperature: 2 });
    expect(hot.probs[0]).to.be.closeTo(Math.sqrt(0.5) / [0.1, 0.5, 0.15, 0.25].reduce((s, x) => s + Math.sqrt(x), 0), 1e-12);
  });
});

describe('generate: the API', () => {
  it('generate() runs greedy, beam and sampling on the CPU (and WebGPU) and reuses compiled programs', async () => {
    const g = await Generator.create(base, { device: 'cpu' });
    const greedyOut = await g.generate(PROMPTS, { strategy: 'greedy', maxNewTokens: NEW, eos: null });
    expect(greedyOut.tokens[0]).to.have.length(NEW);
    const beam = await g.generate(PROMPTS, { strategy: 'beam', beams: 2, maxNewTokens: 4, eos: null });
    expect(beam.beams![0]).to.have.length(2);
    expect(beam.scores[0]).to.be.at.least(beam.beams![0][1].score);
    await g.generate(PROMPTS, { strategy: 'sample', seed: 3, topK: 5, maxNewTokens: NEW, eos: null });
    // greedy and sampling share rows (2) and capacity (16): 2 programs; beam 2x2 rows adds 2.
    expect(g.stats.compiles).to.equal(4);
    g.release();
    // On WebGPU (sharing the test device): the same tokens.
    const dev = await Generator.create(base, { device: 'webgpu', ctx: await gpu() });
    expect((await dev.generate(PROMPTS, { strategy: 'greedy', maxNewTokens: NEW, eos: null })).tokens).to.deep.equal(greedyOut.tokens);
    dev.release();
    // The config's eos (0 for the tiny GPT-2) ends sequences by default.
    const once = await generate(base, PROMPTS, { device: 'cpu', strategy: 'greedy', maxNewTokens: NEW, cache: false });
    const withNone = await generate(base, PROMPTS, { device: 'cpu', strategy: 'greedy', maxNewTokens: NEW, eos: null });
    once.tokens.forEach((t, i) => {
      const cut = withNone.tokens[i].indexOf(0);
      expect(t).to.deep.equal(cut < 0 ? withNone.tokens[i] : withNone.tokens[i].slice(0, cut + 1));
    });
  });
});
