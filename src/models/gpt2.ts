// GPT-2 (GPT2LMHeadModel) as a graph. Parameter names are the Hugging Face names without the
// `transformer.` prefix; scopes mirror module paths (`h.3.attn.c_attn`). Conv1D weights are
// stored [in, out], so linear layers are x·W. The LM head is tied to `wte`.

import { Graph, type Shape } from '../graph/index.js';
import { GraphBuilder, SLICE_TO_END, type Ref } from '../ops/index.js';
import { attention } from './attention.js';
import { POINTS } from '../graph/index.js';

export interface Gpt2Dims {
  readonly vocabSize: number;
  readonly positions: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly inner: number;
  readonly eps: number;
}

export interface BatchShape {
  readonly batch: number;
  readonly seq: number;
  /** Add a `labels` input and a `loss` output (default true). */
  readonly labels?: boolean;
  /** Parameters start trainable (full fine-tuning); default frozen. */
  readonly trainable?: boolean;
  /** BERT only: build the pooler (default true); masked-LM pretraining leaves it out. */
  readonly pooler?: boolean;
}

export function buildGpt2(cfg: Gpt2Dims, shape: BatchShape): Graph {
  const b = new GraphBuilder();
  const { batch: B, seq: S } = shape;
  const D = cfg.dim;
  const trainable = shape.trainable ?? false;
  const p = (name: string, dims: Shape, init = 'normal:0.02'): Ref => b.param(name, dims, { trainable, init });

  const ids = b.input('input_ids', [B, S], 'i32');
  const attentionMask = b.mark(b.input('attention_mask', [B, S], 'i32'), POINTS.attentionMask);
  const wte = p('wte.weight', [cfg.vocabSize, D]);
  const tok = b.within('wte', () => b.mark(b.gather(wte, ids), POINTS.inputEmbeds));
  const pos = b.within('wpe', () => b.mark(b.slice(p('wpe.weight', [cfg.positions, D], 'normal:0.01'), 0, 0, S), POINTS.positionEmbeds));
  let x = b.add(tok, pos);
  const mask = b.add(b.mark(b.causalMask(S, S), POINTS.causalMask), b.paddingMask(attentionMask));

  for (let l = 0; l < cfg.layers; l++) {
    x = b.within(`h.${l}`, () => {
      const h = `h.${l}`;
      const ln = (name: string, v: Ref): Ref => b.within(name, () => b.layernorm(v, p(`${h}.${name}.weight`, [D], 'ones'), p(`${h}.${name}.bias`, [D], 'zeros'), cfg.eps));
      const linear = (name: string, v: Ref, nIn: number, nOut: number): Ref =>
        b.within(name.split('.').pop()!, () => b.add(b.matmul(v, p(`${h}.${name}.weight`, [nIn, nOut])), p(`${h}.${name}.bias`, [nOut], 'zeros')));
      const a = ln('ln_1', x);
      const attnOut = b.within('attn', () => {
        const qkv = linear('attn.c_attn', a, D, 3 * D);
        const part = (k: number): Ref => b.slice(qkv, 2, k * D, (k + 1) * D);
        const ctx = attention(b, part(0), part(1), part(2), cfg.heads, mask);
        return b.mark(linear('attn.c_proj', ctx, D, D), POINTS.attnOutput);
      });
      const x1 = b.add(x, attnOut);
      const m = ln('ln_2', x1);
      const mlpOut = b.within('mlp', () => b.mark(linear('mlp.c_proj', b.gelu(linear('mlp.c_fc', m, D, cfg.inner)), cfg.inner, D), POINTS.mlpOutput));
      return b.add(x1, mlpOut);
    });
  }
  const hidden = b.within('ln_f', () => b.mark(b.layernorm(x, p('ln_f.weight', [D], 'ones'), p('ln_f.bias', [D], 'zeros'), cfg.eps), POINTS.hiddenStates));
  const logits = b.within('lm_head', () => b.matmul(hidden, wte, { transB: true }));
  b.output('logits', logits);
  if (shape.labels ?? true) {
    const labels = b.mark(b.input('labels', [B, S], 'i32'), POINTS.labels);
    b.output('loss', b.within('loss', () => causalLmLoss(b, logits, labels)));
  }
  return b.graph;
}

/** Hugging Face's causal-LM loss: position t predicts label t+1; -100 is ignored. */
export function causalLmLoss(b: GraphBuilder, logits: Ref, labels: Ref): Ref {
  return b.crossEntropy(b.slice(logits, 1, 0, -1), b.slice(labels, 1, 1, SLICE_TO_END), -100);
}
