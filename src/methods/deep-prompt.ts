// Deep prompts: P extra key/value positions in front of every targeted layer's attention
// (prefix-tuning, P-tuning v2). The prompt tensor has PEFT's layout [P, L*2*D] (block 2l is
// layer l's keys, 2l+1 its values), either a parameter itself or the output of a tanh MLP
// reparameterization computed once per step from a [P, D] embedding (not once per example).
// Targeted layers read the attention mask padded with P visible positions.

import * as t from 'io-ts';
import { findAll, type Graph } from '../graph/index.js';
import { GraphBuilder, retype, type Ref } from '../ops/index.js';
import { POINTS } from '../graph/index.js';
import { MethodError, type MethodResult } from './method.js';
import { layerKeyValues, point, rewriteAt } from './points.js';
import { setPositions } from './sequence.js';
import { LayersCodec, selectLayers } from './layers.js';

export const ReparamCodec = t.type({ hidden: t.Int }, 'reparameterization {hidden}');

export const DeepPromptConfig = t.intersection([
  t.type({ length: t.Int }),
  t.partial({
    /** tanh-MLP reparameterization `Linear(D,k) -> tanh -> Linear(k, L*2*D)`; null for direct parameters. */
    reparam: t.union([ReparamCodec, t.null]),
    layers: LayersCodec,
    /** Real tokens' position ids start after the prefix (`shifted`, Hugging Face) or at 0. */
    positions: t.union([t.literal('shifted'), t.literal('unshifted')]),
    /** Std of the random init of the prompt (or of the reparameterization's input embedding). */
    initStd: t.number,
    /**
     * Start from the frozen LM's keys and values on these words (direct parameters only; the
     * text must tokenize to `length` tokens). Resolved by the pipeline, which has the tokenizer
     * and weights (pipelines/prefix-init.ts); the graph rewrite itself ignores it.
     */
    initText: t.string,
  }),
], 'deep prompt config');
export type DeepPromptConfig = t.TypeOf<typeof DeepPromptConfig>;

/** Parameter names, PEFT-style. */
export const PREFIX: PromptTensorNames = {
  direct: 'prefix.embeddings',
  embedding: 'prefix.embedding',
  transform: (k, what) => `prefix.transform.${k}.${what}`,
};

/** Parameter names of a prompt tensor built by `buildPromptTensor` (PREFIX for prefixes). */
export interface PromptTensorNames {
  readonly direct: string;
  readonly embedding: string;
  readonly transform: (k: 0 | 2, what: 'weight' | 'bias') => string;
}

/**
 * The [P, width] prompt tensor in `scope`, in front of the backbone's computation: a parameter
 * (reparam null) or `Linear(D,k) -> tanh -> Linear(k, width)` of a [P, D] embedding, computed
 * once per step (it depends on no input).
 */
export function buildPromptTensor(b: GraphBuilder, scope: string, names: PromptTensorNames, P: number, D: number, width: number, reparam: { hidden: number } | null, std: number): Ref {
  const g = b.graph;
  return b.at({ before: g.nodes.find((n) => n.op !== 'input' && n.op !== 'param')!.id }, () => b.inScope(scope, () => {
    if (!reparam) return b.param(names.direct, [P, width], { trainable: true, init: `normal:${std}` });
    const emb = b.param(names.embedding, [P, D], { trainable: true, init: `normal:${std}` });
    const linear = (x: Ref, k: 0 | 2, nIn: number, nOut: number): Ref => b.within(`transform.${k}`, () =>
      b.add(b.matmul(x, b.param(names.transform(k, 'weight'), [nOut, nIn], { trainable: true }), { transB: true }),
        b.param(names.transform(k, 'bias'), [nOut], { trainable: true, init: 'zeros' })));
    return linear(b.tanh(linear(emb, 0, D, reparam.hidden)), 2, reparam.hidden, width);
  }));
}

export function applyDeepPrompt(graph: Graph, cfg: DeepPromptConfig, name: string, defaultReparam: { hidden: number } | null): MethodResult {
  const P = cfg.length;
  if (P < 1) throw new MethodError(`${name}: length must be >= 1, got ${P}`);
  const g = graph.clone();
  const b = new GraphBuilder(g);
  const kvs = layerKeyValues(g, name);
  const layers = selectLayers(cfg.layers, kvs.length, name);
  const [B, H, , dh] = kvs[0].key.type.shape;
  const D = H * dh;
  const L = layers.length;
  const reparam = cfg.reparam === undefined ? defaultReparam : cfg.reparam;
  if (cfg.initText !== undefined && reparam) throw new MethodError(`${name}: initText needs direct parameters (reparam: null)`);
  const std = cfg.initStd ?? 0.02;

  const prompt = buildPromptTensor(b, 'prefix', PREFIX, P, D, L * 2 * D, reparam, std);

  layers.forEach((layer, j) => {
    const { key, value } = kvs[layer];
    const block = (kv: 0 | 1): Ref => {
      const cols = b.slice(prompt, 1, (2 * j + kv) * D, (2 * j + kv + 1) * D);
      return b.broadcastTo(b.reshape(b.permute(b.reshape(cols, [P, H, dh]), [1, 0, 2]), [1, H, P, dh]), [B, H, P, dh]);
    };
    rewriteAt(b, key, (k) => b.within('prefix', () => b.concat([block(0), k], 2)));
    rewriteAt(b, value, (v) => b.within('prefix', () => b.concat([block(1), v], 2)));
    // This layer's softmax reads the mask with P visible positions in front of the keys.
    for (const sm of findAll(g, { op: 'softmax', scope: key.scope, exact: true })) {
      if (sm.inputs.length !== 2) throw new MethodError(`${name}: layer ${layer}'s softmax has no mask input`);
      const mask = b.ref(sm.inputs[1]);
      const padded = b.at({ before: sm.id }, () => b.inScope(key.scope, () => b.within('prefix', () => b.pad(mask, 3, P, 0))));
      sm.inputs = [sm.inputs[0], padded.id];
    }
  });
  const policy = cfg.positions ?? 'shifted';
  if (policy === 'shifted') setPositions(g, name, P, 0);
  retype(g);
  checkKeyLengths(g, name, layers, P);
  const trainable = g.params().filter((p) => String(p.attrs.name).startsWith('prefix.')).map((p) => String(p.attrs.name));
  return {
    graph: g, trainable, inputPositions: 0, keyPositions: P, positionPolicy: policy,
    notes: [`${P} key/value positions in front of layers ${layers.join(', ')}${reparam ? ` (reparameterized through a ${reparam.hidden}-wide tanh MLP)` : ''}`],
  };
}

/** After the rewrite, every targeted layer's keys and values are P longer than its queries. */
function checkKeyLengths(g: Graph, name: string, layers: readonly number[], P: number): void {
  const kvs = layerKeyValues(g, name);
  const queries = findAll(g, { op: 'mark', attrs: { point: POINTS.query } });
  for (const l of layers) {
    const q = queries.find((n) => n.scope === kvs[l].key.scope);
    const kLen = g.users(kvs[l].key.id)[0]?.type.shape[2];
    if (q && kLen !== undefined && kLen !== q.type.shape[2] + P) {
      throw new MethodError(`${name}: layer ${l} has ${kLen} key positions for ${q.type.shape[2]} queries, expected ${q.type.shape[2] + P}`);
    }
  }
  point(g, POINTS.inputEmbeds, name);
}
