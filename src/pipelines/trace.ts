// trace: one batch through a prepared model, returning what a researcher wants to look at:
// logits, the loss, and with a method every trainable parameter and its gradient. The batch
// comes from JSONL (one example per line, checked with io-ts, errors naming file:line and the
// JSON path); the graph is compiled for a training step without optimizer, so its outputs are
// `logits`, `loss` and `grad:<name>`.

import { readFile } from 'node:fs/promises';
import * as t from 'io-ts';
import { formatShape, sameShape, type TensorType } from '../graph/index.js';
import { readSafetensors } from '../models/index.js';
import type { ModelConfig } from '../models/index.js';
import { DEFAULT_TARGET, hostTensor, type Feeds, type HostTensor, type KernelTarget, type ParamStore } from '../ops/index.js';
import { compile, gradOutput } from '../passes/index.js';
import type { Executor } from '../runtime/index.js';
import { DecodeError, decodeOrThrow } from '../util/decode.js';
import { padExamples } from './data/pad.js';
import { trainableNames, type PreparedModel } from './model.js';

const IGNORE = -100;
const PAD_ID = 0;

const Int = t.refinement(t.number, Number.isSafeInteger, 'integer');
const Bit = t.refinement(Int, (n) => n === 0 || n === 1, '0 or 1');

export const TraceExampleCodec = t.intersection([
  t.type({ input_ids: t.array(Int) }),
  t.partial({ attention_mask: t.array(Bit), labels: t.array(Int) }),
], 'example {input_ids, attention_mask?, labels?}');
export type TraceExample = t.TypeOf<typeof TraceExampleCodec>;

/** An example with where it came from, so later checks can name the line too. */
export interface TraceLine {
  readonly example: TraceExample;
  /** `file:line` */
  readonly where: string;
}

/** Reads a JSONL batch: every non-blank line one example. */
export async function readTraceBatch(path: string): Promise<TraceLine[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DecodeError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${(e as Error).message})`);
  }
  const lines: TraceLine[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new DecodeError(`${where}: not JSON (${(e as Error).message})`);
    }
    lines.push({ example: decodeOrThrow(TraceExampleCodec, value, where), where });
  });
  if (lines.length === 0) throw new DecodeError(`${path}: no examples (one JSON object per line)`);
  return lines;
}

/** Checks examples against the model: lengths agree, ids are in the vocabulary. */
export function checkExamples(lines: readonly TraceLine[], config: ModelConfig): void {
  const V = config.vocabSize;
  for (const { example: e, where } of lines) {
    const fail = (path: string, msg: string): never => { throw new DecodeError(`${where}: at $.${path}: ${msg}`); };
    if (e.input_ids.length === 0) fail('input_ids', 'expected at least one token id, got []');
    e.input_ids.forEach((id, k) => { if (id < 0 || id >= V) fail(`input_ids[${k}]`, `token id ${id} is outside the vocabulary (0..${V - 1})`); });
    if (e.attention_mask && e.attention_mask.length !== e.input_ids.length) fail('attention_mask', `${e.attention_mask.length} entries for ${e.input_ids.length} input_ids`);
    if (e.labels) {
      if (e.labels.length !== e.input_ids.length) fail('labels', `${e.labels.length} labels for ${e.input_ids.length} input_ids`);
      e.labels.forEach((l, k) => { if (l !== IGNORE && (l < 0 || l >= V)) fail(`labels[${k}]`, `label ${l} is neither a token id (0..${V - 1}) nor ${IGNORE} (ignored)`); });
    }
  }
}

export interface TraceBatch {
  readonly feeds: Feeds;
  readonly batch: number;
  readonly seq: number;
  /** Whether any example has labels (so the graph has a loss). */
  readonly labels: boolean;
}

/**
 * Pads on the right to the longest example: pad id 0, mask 0, label -100. Examples without
 * labels get -100 everywhere when others have them; BERT gets token_type_ids of zeros.
 */
export function batchFeeds(lines: readonly TraceLine[], config: ModelConfig): TraceBatch {
  const withLabels = lines.some((l) => l.example.labels !== undefined);
  const examples = lines.map(({ example: e }) => ({ input_ids: e.input_ids, ...(withLabels ? { labels: e.labels ?? e.input_ids.map(() => IGNORE) } : {}) }));
  const padded = padExamples(examples, { padId: PAD_ID, labelPad: IGNORE });
  const [B, S] = padded.input_ids.shape;
  // padExamples sets mask 1 on every real token; an example's own mask overrides that.
  const mask = Int32Array.from(padded.attention_mask.data);
  lines.forEach(({ example: e }, b) => e.attention_mask?.forEach((m, s) => { mask[b * S + s] = m; }));
  const feeds: Record<string, HostTensor> = { input_ids: padded.input_ids, attention_mask: hostTensor([B, S], 'i32', mask) };
  if (padded.labels) feeds.labels = padded.labels;
  if (config.kind === 'bert') feeds.token_type_ids = hostTensor([B, S], 'i32', new Int32Array(B * S));
  return { feeds, batch: B, seq: S, labels: withLabels };
}

/**
 * Trainable parameter values from a safetensors file, checked against the graph: every name must
 * be a trainable parameter of the right shape (all problems listed at once).
 */
export async function readTrainableParams(path: string, trainable: ReadonlyMap<string, TensorType>): Promise<ParamStore> {
  const { tensors } = await readSafetensors(path);
  const unknown: string[] = [], wrong: string[] = [];
  for (const [name, v] of tensors) {
    const want = trainable.get(name);
    if (!want) unknown.push(name);
    else if (!sameShape(v.shape, want.shape) || v.dtype !== want.dtype) wrong.push(`${name}: expected ${want.dtype}${formatShape(want.shape)}, found ${v.dtype}${formatShape(v.shape)}`);
  }
  if (unknown.length || wrong.length) {
    const names = [...trainable.keys()];
    const lines = [
      ...(unknown.length ? [`  not trainable parameters of this model (${unknown.length}): ${unknown.join(', ')}`] : []),
      ...(wrong.length ? [`  wrong shape or dtype (${wrong.length}): ${wrong.join('; ')}`] : []),
      `  trainable parameters: ${names.length ? names.join(', ') : 'none (give a method spec)'}`,
    ];
    throw new DecodeError(`${path}: tensors do not match the trainable parameters:\n${lines.join('\n')}`);
  }
  return tensors;
}

export interface TraceOptions {
  readonly executor: Executor;
  readonly target?: KernelTarget;
  /** Values for trainable parameters, replacing their init (see readTrainableParams). */
  readonly params?: ParamStore;
}

export interface TraceResult {
  /** `logits`, `loss` (with labels), `param/<name>` and `grad/<name>` (with a method). */
  readonly tensors: Map<string, HostTensor>;
  readonly trainable: readonly string[];
  /** Why gradients are missing, when they are. */
  readonly notes: readonly string[];
}

export async function trace(prepared: PreparedModel, batch: TraceBatch, opts: TraceOptions): Promise<TraceResult> {
  const trainable = trainableNames(prepared);
  const params = new Map([...prepared.params, ...(opts.params ?? [])]);
  // Gradients need a loss; without labels only the forward graph is compiled.
  const grads = trainable.length > 0 && batch.labels;
  const notes = trainable.length > 0 && !batch.labels ? ['no example has labels: no loss, so no gradients (param/ tensors written)'] : [];
  const compiled = compile(prepared.graph, {
    train: grads, optimizer: false, target: opts.target ?? DEFAULT_TARGET, params: new Map(params),
    ...(prepared.method ? { trainable: prepared.method.trainable } : {}),
  });
  const names = ['logits', ...(batch.labels ? ['loss'] : []), ...(grads ? trainable.map(gradOutput) : [])];
  const out = await opts.executor.run(compiled.graph, batch.feeds, compiled.params, names);
  const tensors = new Map<string, HostTensor>([['logits', out.get('logits')!]]);
  if (batch.labels) tensors.set('loss', out.get('loss')!);
  for (const name of trainable) {
    tensors.set(`param/${name}`, params.get(name)!);
    if (grads) tensors.set(`grad/${name}`, out.get(gradOutput(name))!);
  }
  return { tensors, trainable, notes };
}
