// Prompt tuning (Lester et al. 2021): P trainable vectors prepended to the input embeddings.
// Positions, the attention mask, labels and token types grow by P (as PEFT does: the soft
// tokens take positions 0..P-1, are always attended, and carry no label); `logits` keeps the
// input's length (the soft positions are sliced off).

import * as t from 'io-ts';
import { GraphBuilder, SLICE_TO_END, retype } from '../ops/index.js';
import { POINTS } from '../graph/index.js';
import { defineMethod, MethodError } from './method.js';
import { point, rewriteAt } from './points.js';
import { extendAttentionMask, extendCausalMask, extendSequenceInputs, setPositions } from './sequence.js';
import { rowsInit } from './init.js';

export const PROMPT_PARAM = 'prompt.embeddings';

const Init = t.union([
  t.type({ kind: t.literal('random'), std: t.number }),
  /** Rows of the word-embedding table: given token ids (e.g. sampled from the vocabulary or the ids of a text). */
  t.type({ kind: t.literal('vocab'), tokenIds: t.array(t.Int) }),
], 'init');

export const PromptTuningConfig = t.intersection([
  t.type({ length: t.Int }),
  t.partial({ init: Init }),
], 'prompt-tuning config');

export const promptTuning = defineMethod({
  name: 'prompt-tuning',
  description: 'soft tokens prepended at the input embedding layer',
  config: PromptTuningConfig,
  apply(graph, cfg) {
    const name = 'prompt-tuning';
    if (cfg.length < 1) throw new MethodError(`${name}: length must be >= 1, got ${cfg.length}`);
    const g = graph.clone();
    const b = new GraphBuilder(g);
    const embeds = point(g, POINTS.inputEmbeds, name);
    const [B, , D] = embeds.type.shape;
    const table = g.node(g.node(embeds.inputs[0]).inputs[0]);
    let init = 'normal:0.02';
    if (cfg.init?.kind === 'random') init = `normal:${cfg.init.std}`;
    if (cfg.init?.kind === 'vocab') {
      if (cfg.init.tokenIds.length !== cfg.length) throw new MethodError(`${name}: init.tokenIds has ${cfg.init.tokenIds.length} ids, expected length ${cfg.length}`);
      init = rowsInit(String(table.attrs.name), cfg.init.tokenIds);
    }
    const P = cfg.length;
    rewriteAt(b, embeds, (x) => b.within('prompt', () => {
      const prompt = b.param(PROMPT_PARAM, [P, D], { trainable: true, init });
      return b.concat([b.broadcastTo(b.reshape(prompt, [1, P, D]), [B, P, D]), x], 1);
    }));
    setPositions(g, name, 0, P);
    extendCausalMask(g, P, P);
    extendAttentionMask(b, P);
    extendSequenceInputs(b, P);
    retype(g);
    const logits = g.outputs.get('logits');
    if (logits !== undefined) b.output('logits', b.inScope('prompt', () => b.slice(b.ref(logits), 1, P, SLICE_TO_END)));
    return {
      graph: g, trainable: [PROMPT_PARAM], inputPositions: P, keyPositions: 0, positionPolicy: 'unshifted',
      notes: [`${P} soft tokens [${P},${D}] prepended to the input embeddings`],
    };
  },
});
