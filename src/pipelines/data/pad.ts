// padBatch: an array of tokenized examples -> i32 HostTensors the model graphs take:
// input_ids [B, S], attention_mask [B, S] (1 = real token, 0 = padding; i32 as models/gpt2 and
// models/bert declare it), and labels: [B, S] padded with labelPad when examples carry per-token
// label arrays (LM, tagging), or [B] when they carry one number each (classification).
// S is the longest example (at least 1), or maxLength with padTo 'maxLength' (fixed shapes avoid
// recompiling per batch). Sequences longer than maxLength keep their first maxLength tokens.

import type { OperatorFunction } from 'rxjs';
import { map } from 'rxjs';
import { hostTensor, type HostTensor } from '../../ops/host.js';

export interface PadOptions {
  padId: number;
  /** Label value at padded positions; -100 is what the loss ignores. */
  labelPad?: number;
  maxLength?: number;
  padTo?: 'longest' | 'maxLength';
  side?: 'right' | 'left';
}

export interface PadInput {
  readonly input_ids: readonly number[];
  readonly labels?: readonly number[] | number;
}

export interface PaddedBatch<E> {
  readonly input_ids: HostTensor;
  readonly attention_mask: HostTensor;
  readonly labels?: HostTensor;
  /** Real (unpadded, truncated) length of each row. */
  readonly lengths: number[];
  /** The examples the batch was built from (answers, ids, ... for evaluation). */
  readonly examples: readonly E[];
}

export function padBatch<E extends PadInput>(opts: PadOptions): OperatorFunction<readonly E[], PaddedBatch<E>> {
  checkOptions(opts);
  return map((examples: readonly E[]) => padExamples(examples, opts));
}

/** The padding itself, for callers outside an Observable. */
export function padExamples<E extends PadInput>(examples: readonly E[], opts: PadOptions): PaddedBatch<E> {
  checkOptions(opts);
  const { padId, labelPad = -100, maxLength, side = 'right' } = opts;
  const B = examples.length;
  if (B === 0) throw new Error('padBatch: empty batch');
  const lengths = examples.map((e) => Math.min(e.input_ids.length, maxLength ?? Infinity));
  const S = opts.padTo === 'maxLength' ? (maxLength as number) : Math.max(1, ...lengths);
  const ids = new Int32Array(B * S).fill(padId);
  const mask = new Int32Array(B * S);
  const labelKind = kindOfLabels(examples);
  const tokenLabels = labelKind === 'tokens' ? new Int32Array(B * S).fill(labelPad) : null;
  examples.forEach((e, b) => {
    const L = lengths[b];
    const offset = b * S + (side === 'left' ? S - L : 0);
    const labels = e.labels;
    if (tokenLabels && typeof labels !== 'number' && labels && labels.length !== e.input_ids.length) {
      throw new Error(`padBatch: example ${b} has ${labels.length} labels for ${e.input_ids.length} input_ids`);
    }
    for (let s = 0; s < L; s++) {
      ids[offset + s] = e.input_ids[s];
      mask[offset + s] = 1;
      if (tokenLabels && typeof labels === 'object') tokenLabels[offset + s] = labels[s];
    }
  });
  const labels =
    labelKind === 'tokens' && tokenLabels ? hostTensor([B, S], 'i32', tokenLabels)
    : labelKind === 'scalar' ? hostTensor([B], 'i32', examples.map((e) => e.labels as number))
    : undefined;
  return {
    input_ids: hostTensor([B, S], 'i32', ids),
    attention_mask: hostTensor([B, S], 'i32', mask),
    ...(labels ? { labels } : {}),
    lengths,
    examples,
  };
}

function kindOfLabels(examples: readonly PadInput[]): 'none' | 'tokens' | 'scalar' {
  const kinds = new Set(examples.map((e) => (e.labels === undefined ? 'none' : typeof e.labels === 'number' ? 'scalar' : 'tokens')));
  if (kinds.size > 1) throw new Error(`padBatch: examples mix label kinds (${[...kinds].join(', ')}); give every example per-token labels, one number, or none`);
  return [...kinds][0];
}

function checkOptions(opts: PadOptions): void {
  if (!Number.isInteger(opts.padId)) throw new Error(`padBatch: padId must be an integer, got ${opts.padId}`);
  if (opts.maxLength !== undefined && (!Number.isInteger(opts.maxLength) || opts.maxLength < 1)) throw new Error(`padBatch: maxLength must be a positive integer, got ${opts.maxLength}`);
  if (opts.padTo === 'maxLength' && opts.maxLength === undefined) throw new Error(`padBatch: padTo 'maxLength' needs maxLength`);
}
