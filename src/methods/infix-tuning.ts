// Infix-tuning, the "infixing" ablation of prefix-tuning (Li & Liang 2021, §7.2: [x; INFIX; y],
// slightly worse than prefixing): P positions of the sequence itself (between x and y, or
// anywhere a template puts `[P]`) get trainable activations at every targeted layer. Their keys
// and values are replaced by the layer's block of a [P, L*2*D] prompt tensor (PEFT's prefix
// layout; tanh-MLP reparameterized as prefix-tuning by default), so later positions attend to
// trained activations, while the positions keep their real position ids and mask entries.
// Where the infix sits is data: the i32 input `prompt_positions` [B,S] (as P-tuning v1: index
// 0..P-1 at infix positions, -1 elsewhere), so x may vary in length; the data side puts a
// placeholder token there, attention mask 1 and label -100. (No pipeline task writes infix
// batches yet: the method is a graph transform, used from the API.)
//   k' = where(0 <= prompt_positions < P, gather(block_k, prompt_positions), k)   (same for v)
// Placed at the front of the sequence, infix-tuning is exactly prefix-tuning with shifted
// positions (tested): prefix keys/values have no position, and the infix positions' own
// outputs reach nothing but their (replaced) keys and values.

import * as t from 'io-ts';
import { findAll } from '../graph/index.js';
import { GraphBuilder, retype, type Ref } from '../ops/index.js';
import { defineMethod, MethodError } from './method.js';
import { layerKeyValues, rewriteAt } from './points.js';
import { LayersCodec, selectLayers } from './layers.js';
import { buildPromptTensor, ReparamCodec, type PromptTensorNames } from './deep-prompt.js';
import { claimPromptPositions, PROMPT_POSITIONS, promptPositionsInput } from './prompt-positions.js';

export const INFIX: PromptTensorNames = {
  direct: 'infix.embeddings',
  embedding: 'infix.embedding',
  transform: (k, what) => `infix.transform.${k}.${what}`,
};

export const InfixTuningConfig = t.intersection([
  t.type({ length: t.Int }),
  t.partial({
    /** As prefix-tuning: the tanh MLP (default hidden 512), or null for direct parameters. */
    reparam: t.union([ReparamCodec, t.null]),
    layers: LayersCodec,
    initStd: t.number,
  }),
], 'infix-tuning config');
export type InfixTuningConfig = t.TypeOf<typeof InfixTuningConfig>;

export const infixTuning = defineMethod({
  name: 'infix-tuning',
  description: "trainable activations at P infix positions of every layer (prefix-tuning's infix ablation)",
  config: InfixTuningConfig,
  apply(graph, cfg) {
    const name = 'infix-tuning';
    const P = cfg.length;
    if (P < 1) throw new MethodError(`${name}: length must be >= 1, got ${P}`);
    const g = graph.clone();
    const b = new GraphBuilder(g);
    claimPromptPositions(g, name);
    const ids = findAll(g, { op: 'input', attrs: { name: 'input_ids' } })[0];
    const kvs = layerKeyValues(g, name);
    const layers = selectLayers(cfg.layers, kvs.length, name);
    const [B, H, S, dh] = kvs[0].key.type.shape;
    if (!ids || ids.type.shape[1] !== S) throw new MethodError(`${name}: layers see ${S} positions but input_ids has ${ids?.type.shape[1] ?? 'none'}; apply infix-tuning before methods that add input positions`);
    const D = H * dh, L = layers.length;
    const reparam = cfg.reparam === undefined ? { hidden: 512 } : cfg.reparam;
    const prompt = buildPromptTensor(b, 'infix', INFIX, P, D, L * 2 * D, reparam, cfg.initStd ?? 0.02);

    // Built once, in front of the first layer: the positions and where they are in range.
    const first = kvs[layers[0]].key;
    const { pos, inRange } = b.at({ before: first.id }, () => b.inScope('infix', () => {
      const slots = promptPositionsInput(b, B, S, P);
      return { pos: slots.pos, inRange: b.reshape(slots.inRange, [B, 1, S, 1]) };
    }));
    layers.forEach((layer, j) => {
      const block = (kv: 0 | 1): Ref => {
        const rows = b.gather(b.slice(prompt, 1, (2 * j + kv) * D, (2 * j + kv + 1) * D), pos); // [B,S,D]
        return b.permute(b.reshape(rows, [B, S, H, dh]), [0, 2, 1, 3]);
      };
      rewriteAt(b, kvs[layer].key, (k) => b.within('infix', () => b.where(inRange, block(0), k)));
      rewriteAt(b, kvs[layer].value, (v) => b.within('infix', () => b.where(inRange, block(1), v)));
    });
    retype(g);
    const trainable = g.params().filter((p) => String(p.attrs.name).startsWith('infix.')).map((p) => String(p.attrs.name));
    return {
      graph: g, trainable, inputPositions: 0, keyPositions: 0, positionPolicy: 'not-applicable',
      notes: [`${P} infix positions (where '${PROMPT_POSITIONS}' >= 0) take trained keys/values at layers ${layers.join(', ')}${reparam ? ` (through a ${reparam.hidden}-wide tanh MLP)` : ''}`],
    };
  },
});
