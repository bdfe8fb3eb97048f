// Fine-tuning as a transform: the graph is unchanged except that chosen backbone parameters
// become trainable. The baselines the papers compare against: full fine-tuning (`layers: 'all'`,
// every parameter) and the top-k layers only (`layers: {top: 2}`: h.{L-2}, h.{L-1}).
//
// Only parameters the `loss` output depends on are unfrozen (the compiler rejects trainable
// parameters that do not reach the loss): BERT's pooler under the MLM loss, or the MLM head
// under a classification head, stay frozen and are named in the notes. Apply a `head` before
// `fine-tune` so the head's inputs (e.g. the pooler) count.

import * as t from 'io-ts';
import { scopeMatches, type Graph, type Node } from '../graph/index.js';
import { defineMethod, MethodError } from './method.js';
import { LayersCodec, selectLayers } from './layers.js';
import { layerKeyValues } from './points.js';

export const FineTuneConfig = t.partial({
  /** 'all' trains every parameter; a subset trains only `h.<l>.*` / `encoder.layer.<l>.*` (ln_f, pooler, MLM head only via include). */
  layers: LayersCodec,
  /** Extra parameter-name patterns (scope syntax), e.g. 'wte.weight', 'ln_f.*'. */
  include: t.array(t.string),
  /** Also train the embedding tables (default: true for 'all', false for a subset of layers). */
  embeddings: t.boolean,
}, 'fine-tune config');
export type FineTuneConfig = t.TypeOf<typeof FineTuneConfig>;

/** Layer index of a parameter name (`h.3.…`, `encoder.layer.3.…`), or undefined outside layers. */
function paramLayer(name: string): number | undefined {
  const m = /^(?:h|encoder\.layer)\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Embedding tables and BERT's embedding LayerNorm. */
const isEmbedding = (name: string): boolean => /^(wte|wpe)\.|^embeddings\./.test(name);

/** Ids of the nodes `id` depends on (itself included). */
function upstream(g: Graph, id: number): Set<number> {
  const need = new Set([id]);
  const nodes = g.nodes;
  for (let k = nodes.length - 1; k >= 0; k--) if (need.has(nodes[k].id)) for (const i of nodes[k].inputs) need.add(i);
  return need;
}

export const fineTune = defineMethod({
  name: 'fine-tune',
  description: 'unfreeze backbone parameters: all (full fine-tuning) or those of chosen layers',
  config: FineTuneConfig,
  apply(graph, cfg) {
    const name = 'fine-tune';
    const g = graph.clone();
    const count = layerKeyValues(g, name).length;
    const all = cfg.layers === undefined || cfg.layers === 'all';
    const layers = new Set(selectLayers(cfg.layers, count, name));
    const embeddings = cfg.embeddings ?? all;
    const params = g.params();
    const names = params.map((p) => String(p.attrs.name));
    for (const pattern of cfg.include ?? []) {
      if (!names.some((n) => n === pattern || scopeMatches(n, pattern))) {
        throw new MethodError(`${name}: include pattern '${pattern}' matches no parameter; parameters outside layers: ${names.filter((n) => paramLayer(n) === undefined).join(', ')}`);
      }
    }
    const chosen = (p: Node): boolean => {
      const n = String(p.attrs.name);
      if (cfg.include?.some((pat) => n === pat || scopeMatches(n, pat))) return true;
      if (isEmbedding(n)) return embeddings;
      const l = paramLayer(n);
      return l === undefined ? all : layers.has(l);
    };
    const lossId = g.outputs.get('loss');
    const reach = lossId === undefined ? undefined : upstream(g, lossId);
    const selected = params.filter(chosen);
    const unreached = selected.filter((p) => reach && !reach.has(p.id)).map((p) => String(p.attrs.name));
    const trainable = selected.filter((p) => !reach || reach.has(p.id));
    if (trainable.length === 0) throw new MethodError(`${name}: the selection (layers ${[...layers].join(', ')}${cfg.include ? `, include ${cfg.include.join(', ')}` : ''}) holds no parameter that reaches the loss`);
    for (const p of trainable) p.attrs = { ...p.attrs, trainable: true };
    const trainableNames = trainable.map((p) => String(p.attrs.name));
    const notes = [all && embeddings && !cfg.include
      ? `full fine-tuning: ${trainableNames.length} parameter tensors`
      : `fine-tuning layers ${[...layers].join(', ')}${embeddings ? ' and the embeddings' : ''}${cfg.include ? ` and ${cfg.include.join(', ')}` : ''}: ${trainableNames.length} parameter tensors`];
    if (unreached.length) notes.push(`left frozen (they do not reach the loss): ${unreached.join(', ')}`);
    return { graph: g, trainable: trainableNames, inputPositions: 0, keyPositions: 0, positionPolicy: 'not-applicable', notes };
  },
});
