// BERT (BertForMaskedLM) as a graph. Parameter names are the Hugging Face names without the
// `bert.` prefix; scopes mirror module paths (`encoder.layer.3.attention.self.query`).
// nn.Linear weights are stored [out, in], so linear layers are x·Wᵀ. The MLM decoder is tied
// to the word embeddings.

import { Graph, type Shape } from '../graph/index.js';
import { GraphBuilder, type Ref } from '../ops/index.js';
import { attention } from './attention.js';
import { POINTS } from '../graph/index.js';
import type { BatchShape } from './gpt2.js';

export interface BertDims {
  readonly vocabSize: number;
  readonly positions: number;
  readonly typeVocabSize: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly inner: number;
  readonly eps: number;
  /** 'erf' for BERT's `gelu`, 'tanh' for `gelu_new`. */
  readonly gelu: 'erf' | 'tanh';
}

export function buildBert(cfg: BertDims, shape: BatchShape): Graph {
  const b = new GraphBuilder();
  const { batch: B, seq: S } = shape;
  const D = cfg.dim;
  const trainable = shape.trainable ?? false;
  const p = (name: string, dims: Shape, init = 'normal:0.02'): Ref => b.param(name, dims, { trainable, init });
  const layerNorm = (name: string, v: Ref): Ref => b.within('LayerNorm', () => b.layernorm(v, p(`${name}.LayerNorm.weight`, [D], 'ones'), p(`${name}.LayerNorm.bias`, [D], 'zeros'), cfg.eps));
  const linear = (name: string, v: Ref, nIn: number, nOut: number): Ref =>
    b.within(name.split('.').pop()!, () => b.add(b.matmul(v, p(`${name}.weight`, [nOut, nIn]), { transB: true }), p(`${name}.bias`, [nOut], 'zeros')));
  const act = (v: Ref): Ref => (cfg.gelu === 'erf' ? b.geluErf(v) : b.gelu(v));

  const ids = b.input('input_ids', [B, S], 'i32');
  const types = b.mark(b.input('token_type_ids', [B, S], 'i32'), POINTS.tokenTypeIds);
  const attentionMask = b.mark(b.input('attention_mask', [B, S], 'i32'), POINTS.attentionMask);
  const wordEmbeddings = p('embeddings.word_embeddings.weight', [cfg.vocabSize, D]);
  let x = b.within('embeddings', () => {
    const tok = b.within('word_embeddings', () => b.mark(b.gather(wordEmbeddings, ids), POINTS.inputEmbeds));
    const pos = b.within('position_embeddings', () => b.mark(b.slice(p('embeddings.position_embeddings.weight', [cfg.positions, D]), 0, 0, S), POINTS.positionEmbeds));
    const typ = b.within('token_type_embeddings', () => b.gather(p('embeddings.token_type_embeddings.weight', [cfg.typeVocabSize, D]), types));
    return layerNorm('embeddings', b.add(b.add(tok, pos), typ));
  });
  const mask = b.paddingMask(attentionMask);

  for (let l = 0; l < cfg.layers; l++) {
    const L = `encoder.layer.${l}`;
    x = b.within(L, () => {
      const attnOut = b.within('attention', () => {
        const ctx = b.within('self', () => attention(b,
          linear(`${L}.attention.self.query`, x, D, D), linear(`${L}.attention.self.key`, x, D, D), linear(`${L}.attention.self.value`, x, D, D), cfg.heads, mask));
        return b.within('output', () => layerNorm(`${L}.attention.output`, b.add(b.mark(linear(`${L}.attention.output.dense`, ctx, D, D), POINTS.attnOutput), x)));
      });
      const inter = b.within('intermediate', () => act(linear(`${L}.intermediate.dense`, attnOut, D, cfg.inner)));
      return b.within('output', () => layerNorm(`${L}.output`, b.add(b.mark(linear(`${L}.output.dense`, inter, cfg.inner, D), POINTS.mlpOutput), attnOut)));
    });
  }
  const hidden = b.mark(x, POINTS.hiddenStates);
  if (shape.pooler ?? true) {
    const cls = b.reshape(b.slice(hidden, 1, 0, 1), [B, D]);
    b.output('pooled', b.within('pooler', () => b.tanh(linear('pooler.dense', cls, D, D))));
  }
  const logits = b.within('cls.predictions', () => {
    const t = b.within('transform', () => layerNorm('cls.predictions.transform', act(linear('cls.predictions.transform.dense', hidden, D, D))));
    return b.within('decoder', () => b.add(b.matmul(t, wordEmbeddings, { transB: true }), p('cls.predictions.bias', [cfg.vocabSize], 'zeros')));
  });
  b.output('logits', logits);
  if (shape.labels ?? true) {
    const labels = b.mark(b.input('labels', [B, S], 'i32'), POINTS.labels);
    b.output('loss', b.within('loss', () => b.crossEntropy(logits, labels, -100)));
  }
  return b.graph;
}
