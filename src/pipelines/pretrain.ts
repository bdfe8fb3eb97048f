// pretrain: makes the bundled tiny backbones from nothing but a seed. The synthetic world's
// corpus trains a tokenizer (byte-level BPE for GPT-2, WordPiece for BERT), then a randomly
// initialized model is trained on it (causal LM for GPT-2, masked LM for BERT), and the result
// is written as a Hugging Face directory: config.json, model.safetensors, tokenizer files.

import { map, Observable } from 'rxjs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateWorld, pretrainCorpus } from './world/index.js';
import {
  trainByteLevelBpe, Gpt2BpeTokenizer, writeGpt2Vocab, writeGpt2TokenizerJson, buildWordPieceVocab, BertWordPieceTokenizer, writeBertVocab,
  type Tokenizer,
} from '../models/tokenizers/index.js';
import { gpt2TinyConfig, bertTinyConfig, randomWeights } from '../models/tiny.js';
import { buildBackbone } from '../models/backbone.js';
import { saveCheckpoint } from '../models/checkpoint.js';
import type { ModelConfig } from '../models/config.js';
import { adamState } from '../passes/optimizer.js';
import { hostTensor, mulberry32, type Feeds, type ParamStore } from '../ops/host.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { batch, fromArray, seededShuffle } from './data/index.js';
import { trainLoop } from './train/loop.js';
import type { TrainEvent } from './train/events.js';
import { createRunner, type ExecutorKind } from './runner.js';

export interface PretrainOptions {
  readonly kind: 'gpt2' | 'bert';
  readonly out: string;
  readonly seed: number;
  readonly steps: number;
  readonly batch: number;
  readonly seq: number;
  readonly lr: number;
  readonly vocabSize: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly sentences: number;
  readonly executor: ExecutorKind;
  readonly onEvent?: (e: TrainEvent) => void;
}

export const PRETRAIN_DEFAULTS: Omit<PretrainOptions, 'kind' | 'out'> = {
  seed: 1, steps: 1500, batch: 16, seq: 48, lr: 3e-3, vocabSize: 768, dim: 64, layers: 4, heads: 4, sentences: 20000, executor: 'webgpu',
};

export interface PretrainResult {
  readonly config: ModelConfig;
  readonly weights: ParamStore;
  readonly losses: number[];
  readonly seconds: number;
}

export async function pretrain(opts: PretrainOptions): Promise<PretrainResult> {
  const t0 = performance.now();
  const world = generateWorld(opts.seed);
  const corpus = pretrainCorpus(world, { sentences: opts.sentences, seed: opts.seed });
  await mkdir(opts.out, { recursive: true });
  const { tokenizer, config } = await makeTokenizer(opts, corpus);
  const examples = opts.kind === 'gpt2' ? packCausal(tokenizer, corpus, opts.seq) : packMasked(tokenizer, corpus, opts.seq);
  // No pooler: the masked-LM loss does not reach it (it is trained by classification heads).
  const graph = buildBackbone(config, { batch: opts.batch, seq: opts.seq, trainable: true, pooler: false });
  const weights = new Map([...randomWeights(config, opts.seed)].filter(([name]) => !name.startsWith('pooler.')));
  const runner = await createRunner(opts.executor, graph, { train: true, optimizer: { weightDecay: 0.01, clipNorm: 1 } }, weights);
  const trainable = graph.params().map((p) => String(p.attrs.name));
  const losses: number[] = [];
  const stepsPerEpoch = Math.floor(examples.length / opts.batch);
  try {
    await new Promise<void>((resolve, reject) => {
      trainLoop({
        runner: runner.runner, epochs: Math.ceil(opts.steps / stepsPerEpoch), maxSteps: opts.steps, totalSteps: opts.steps,
        batches: (epoch) => batches(examples, opts, epoch, tokenizer),
        lr: opts.lr, schedule: { kind: 'linear', warmupSteps: Math.round(opts.steps * 0.05), totalSteps: opts.steps, finalFactor: 0.1 },
        optimizer: { weightDecay: 0.01, clipNorm: 1 }, trainable, stateNames: trainable.flatMap((n) => [n, adamState(n, 'm'), adamState(n, 'v')]),
        logEvery: 25, device: runner.device,
      }).subscribe({
        next: (e) => { if (e.type === 'step' && e.loss !== null) losses.push(e.loss); opts.onEvent?.(e); },
        error: reject,
        complete: resolve,
      });
    });
    const trained = await runner.runner.readParams(trainable);
    await saveCheckpoint(opts.out, config, trained);
    const seconds = (performance.now() - t0) / 1000;
    await writeJsonAtomic(join(opts.out, 'pretrain.json'), {
      command: `promptgraph pretrain --kind ${opts.kind} --out ${opts.out} --seed ${opts.seed} --steps ${opts.steps}`,
      options: { ...opts, onEvent: undefined }, device: runner.device, seconds: Math.round(seconds), losses,
    });
    return { config, weights: trained, losses, seconds };
  } finally {
    runner.release();
  }
}

async function makeTokenizer(opts: PretrainOptions, corpus: readonly string[]): Promise<{ tokenizer: Tokenizer; config: ModelConfig }> {
  const dims = { dim: opts.dim, layers: opts.layers, heads: opts.heads, inner: 4 * opts.dim, positions: 128 };
  if (opts.kind === 'gpt2') {
    const model = trainByteLevelBpe(corpus, opts.vocabSize, ['<|endoftext|>']);
    await writeGpt2Vocab(opts.out, model.vocab, model.merges, model.specialTokens);
    await writeGpt2TokenizerJson(opts.out, model);
    const tokenizer = new Gpt2BpeTokenizer(model);
    const eos = tokenizer.specialTokens.eos ?? 0;
    return { tokenizer, config: gpt2TinyConfig({ ...dims, vocabSize: tokenizer.vocabSize, bosTokenId: eos, eosTokenId: eos }) };
  }
  const tokens = buildWordPieceVocab(corpus, opts.vocabSize, { lowerCase: true });
  await writeBertVocab(opts.out, tokens, { lowerCase: true });
  const tokenizer = new BertWordPieceTokenizer(tokens, { lowerCase: true });
  return { tokenizer, config: bertTinyConfig({ ...dims, vocabSize: tokenizer.vocabSize, padTokenId: tokenizer.specialTokens.pad ?? 0 }) };
}

interface Packed { readonly input_ids: number[]; readonly labels: number[] }

/** Sentences joined by end-of-text into full rows of `seq` tokens (no padding wasted). */
export function packCausal(tok: Tokenizer, corpus: readonly string[], seq: number): Packed[] {
  const eos = tok.specialTokens.eos ?? 0;
  const stream: number[] = [];
  for (const line of corpus) stream.push(...tok.encode(line), eos);
  const rows: Packed[] = [];
  for (let i = 0; i + seq <= stream.length; i += seq) {
    const ids = stream.slice(i, i + seq);
    rows.push({ input_ids: ids, labels: [...ids] });
  }
  return rows;
}

/** BERT inputs: [CLS] sentences... [SEP] up to `seq` tokens; masking happens per batch. */
export function packMasked(tok: Tokenizer, corpus: readonly string[], seq: number): Packed[] {
  const cls = tok.specialTokens.cls ?? 0, sep = tok.specialTokens.sep ?? 0;
  const rows: Packed[] = [];
  let cur: number[] = [];
  for (const line of corpus) {
    const ids = tok.encode(line);
    if (cur.length + ids.length + 2 > seq && cur.length) {
      const row = [cls, ...cur, sep];
      rows.push({ input_ids: row, labels: [...row] });
      cur = [];
    }
    cur.push(...ids.slice(0, seq - 2));
  }
  return rows;
}

/** One epoch of batches: shuffled (seed + epoch), fixed shapes; BERT batches get MLM masking. */
function batches(examples: readonly Packed[], opts: PretrainOptions, epoch: number, tok: Tokenizer): Observable<Feeds> {
  const rand = mulberry32(opts.seed * 1000 + epoch);
  return fromArray(examples).pipe(
    seededShuffle(Math.min(2048, examples.length), opts.seed + epoch),
    batch(opts.batch, { dropLast: true }),
    map((rows) => (opts.kind === 'gpt2' ? causalFeeds(rows, opts.seq) : maskedFeeds(rows, opts.seq, tok, rand))),
  );
}

function causalFeeds(rows: readonly Packed[], S: number): Feeds {
  const B = rows.length;
  return {
    input_ids: hostTensor([B, S], 'i32', rows.flatMap((r) => r.input_ids)),
    attention_mask: hostTensor([B, S], 'i32', new Array(B * S).fill(1)),
    labels: hostTensor([B, S], 'i32', rows.flatMap((r) => r.labels)),
  };
}

/** BERT's masking: 15% of real tokens are targets; of those 80% become [MASK], 10% random, 10% kept. */
function maskedFeeds(rows: readonly Packed[], S: number, tok: Tokenizer, rand: () => number): Feeds {
  const B = rows.length;
  const ids = new Int32Array(B * S), labels = new Int32Array(B * S).fill(-100), mask = new Int32Array(B * S);
  const maskId = tok.specialTokens.mask ?? 0;
  const special = new Set([tok.specialTokens.cls, tok.specialTokens.sep, tok.specialTokens.pad]);
  rows.forEach((r, b) => r.input_ids.slice(0, S).forEach((id, s) => {
    const k = b * S + s;
    mask[k] = 1;
    ids[k] = id;
    if (special.has(id) || rand() >= 0.15) return;
    labels[k] = id;
    const u = rand();
    ids[k] = u < 0.8 ? maskId : u < 0.9 ? Math.floor(rand() * tok.vocabSize) : id;
  }));
  return {
    input_ids: hostTensor([B, S], 'i32', ids), attention_mask: hostTensor([B, S], 'i32', mask), labels: hostTensor([B, S], 'i32', labels),
    token_type_ids: hostTensor([B, S], 'i32', new Int32Array(B * S)),
  };
}

