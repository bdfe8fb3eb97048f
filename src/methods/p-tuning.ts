// P-tuning v1 ("GPT Understands, Too"): P virtual tokens at any positions of a template, only at
// the input embedding layer. The template (template.ts) puts placeholders into the input ids and
// says where they are through the i32 input `prompt_positions` [B,S] (the virtual token's index
// 0..P-1, -1 elsewhere); this transform replaces the token embeddings there with the prompt
// encoder's outputs (prompt-encoder.ts), computed once per step, not once per example:
//   embeds' = where(0 <= prompt_positions < P, gather(encoder(), prompt_positions), embeds)
// Nothing is added to the sequence, so positions, masks and labels are untouched. The LM stays
// frozen (LAMA probing) unless `tuneLm` (SuperGLUE-style joint tuning) unfreezes every
// parameter the LM logits depend on.
// Composition: the `input_embeds` mark keeps meaning the raw token embeddings, so apply
// prompt-tuning before p-tuning (prompt_positions then index the real tokens), not after.

import * as t from 'io-ts';
import type { Graph } from '../graph/index.js';
import { GraphBuilder } from '../ops/index.js';
import { POINTS } from '../graph/index.js';
import { defineMethod, MethodError, type MethodResult } from './method.js';
import { point, rewriteAt } from './points.js';
import { rowsInit } from './init.js';
import { buildPromptEncoder, encoderParamNames, type EncoderKind } from './prompt-encoder.js';
import { parseTemplate, TemplateError } from './template.js';
import { claimPromptPositions, PROMPT_POSITIONS, promptPositionsInput } from './prompt-positions.js';

export { PROMPT_POSITIONS };

const TEMPLATE_NOTE = 'p-tuning template: ';

const Init = t.union([
  t.type({ kind: t.literal('random'), std: t.number }),
  /** Rows of the word-embedding table (one token id per virtual token). */
  t.type({ kind: t.literal('vocab'), tokenIds: t.array(t.Int) }),
], 'init');

export const PTuningConfig = t.intersection([
  t.type({ virtualTokens: t.Int }),
  t.partial({
    encoder: t.union([t.literal('lstm'), t.literal('mlp'), t.literal('none')]),
    /** A template (see template.ts); checked against virtualTokens and returned in the notes for the data side. */
    template: t.string,
    /** Joint tuning: the LM's parameters (all the logits depend on) train too (default false: the LM is frozen). */
    tuneLm: t.boolean,
    /** Of the [P, D] embedding; default normal:1 (PyTorch's nn.Embedding) with an encoder, normal:0.02 without. */
    init: Init,
  }),
], 'p-tuning config');
export type PTuningConfig = t.TypeOf<typeof PTuningConfig>;

export const pTuning = defineMethod({
  name: 'p-tuning',
  description: 'virtual tokens at template positions of the input embeddings, through an LSTM/MLP prompt encoder',
  config: PTuningConfig,
  apply(graph, cfg) {
    const name = 'p-tuning';
    const P = cfg.virtualTokens;
    const encoder: EncoderKind = cfg.encoder ?? 'lstm';
    if (P < 1) throw new MethodError(`${name}: virtualTokens must be >= 1, got ${P}`);
    if (cfg.template !== undefined) checkTemplate(cfg.template, P, name);
    const g = graph.clone();
    const b = new GraphBuilder(g);
    claimPromptPositions(g, name);
    const embeds = point(g, POINTS.inputEmbeds, name);
    const [B, S, D] = embeds.type.shape;
    if (encoder === 'lstm' && D % 2 !== 0) throw new MethodError(`${name}: the bidirectional LSTM encoder needs an even hidden size (D/2 per direction), got ${D}`);
    const init = embeddingInit(g, cfg, encoder, P, name);

    // The encoder goes in front of the backbone's computation: it depends on no input.
    const first = g.nodes.find((n) => n.op !== 'input' && n.op !== 'param');
    if (!first) throw new MethodError(`${name}: the backbone computes nothing`);
    const h = b.at({ before: first.id }, () => b.inScope('', () => buildPromptEncoder(b, encoder, P, D, init)));

    rewriteAt(b, embeds, (x) => b.within('p_tuning', () => {
      const { pos, inRange } = promptPositionsInput(b, B, S, P);
      return b.where(b.reshape(inRange, [B, S, 1]), b.gather(h, pos), x);
    }));

    const trainable = [...encoderParamNames(encoder), ...(cfg.tuneLm ? unfreezeLm(g, name) : [])];
    const notes = [`${P} virtual tokens replace the input embeddings where '${PROMPT_POSITIONS}' [${B},${S}] >= 0, through the '${encoder}' prompt encoder [${P},${D}] (computed once per step)${cfg.tuneLm ? '; the LM trains too' : '; the LM is frozen'}`];
    if (cfg.template !== undefined) notes.push(`${TEMPLATE_NOTE}${cfg.template}`);
    return { graph: g, trainable, inputPositions: 0, keyPositions: 0, positionPolicy: 'not-applicable', notes };
  },
});

/**
 * Joint tuning: every parameter the LM logits depend on trains (not, e.g., BERT's pooler, which
 * no LM loss reaches and which autodiff would reject as disconnected). Returns their names.
 */
function unfreezeLm(g: Graph, name: string): string[] {
  const logits = g.outputs.get('logits');
  if (logits === undefined) throw new MethodError(`${name}: tuneLm needs the backbone's 'logits' output`);
  const needed = new Set([logits]);
  for (let k = g.nodes.length - 1; k >= 0; k--) if (needed.has(g.nodes[k].id)) for (const i of g.nodes[k].inputs) needed.add(i);
  const lm = g.params().filter((p) => needed.has(p.id) && !String(p.attrs.name).startsWith('prompt_encoder.'));
  for (const p of lm) p.attrs = { ...p.attrs, trainable: true };
  return lm.map((p) => String(p.attrs.name));
}

/** The template a p-tuning result was configured with (for the data side), if any. */
export function templateOf(result: MethodResult): string | undefined {
  const note = result.notes.find((n) => n.startsWith(TEMPLATE_NOTE));
  return note === undefined ? undefined : note.slice(TEMPLATE_NOTE.length);
}

function checkTemplate(template: string, P: number, name: string): void {
  try {
    const tpl = parseTemplate(template);
    if (tpl.virtualTokens !== P) throw new MethodError(`${name}: the template has ${tpl.virtualTokens} virtual tokens but virtualTokens is ${P}`);
  } catch (e) {
    if (e instanceof TemplateError) throw new MethodError(`${name}: ${e.message}`);
    throw e;
  }
}

function embeddingInit(g: Graph, cfg: PTuningConfig, encoder: EncoderKind, P: number, name: string): string {
  if (cfg.init?.kind === 'random') return `normal:${cfg.init.std}`;
  if (cfg.init?.kind === 'vocab') {
    if (cfg.init.tokenIds.length !== P) throw new MethodError(`${name}: init.tokenIds has ${cfg.init.tokenIds.length} ids, expected virtualTokens ${P}`);
    const lookup = g.node(point(g, POINTS.inputEmbeds, name).inputs[0]);
    const table = lookup.op === 'gather' ? g.node(lookup.inputs[0]) : undefined;
    if (table?.op !== 'param') throw new MethodError(`${name}: init 'vocab' needs the input embeddings to be a lookup in a parameter table`);
    return rowsInit(String(table.attrs.name), cfg.init.tokenIds);
  }
  return encoder === 'none' ? 'normal:0.02' : 'normal:1';
}
