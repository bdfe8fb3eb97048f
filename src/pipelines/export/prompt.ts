// Input-level prompts: prompt tuning and P-tuning v1, both [P, D] `prompt_embeddings`.
//
// P-tuning v1's prompt encoder (LSTM or MLP) folds into its output, the [P, D] vectors that
// replace the template's placeholder embeddings. That is what PEFT saves for P_TUNING after
// training, and reads back in inference mode as the prompt itself (the encoder is skipped). But
// PEFT prepends the P vectors to the input, where our template may put them anywhere: PEFT
// reproduces our model only for templates whose virtual tokens all come first. Our loader keeps
// the template (from promptgraph.json) with `encoder: 'none'` and the folded vectors as the
// embedding, so it reproduces any template. A P_TUNING artifact PEFT wrote has no template: it
// loads as what PEFT runs, prompt tuning (the P vectors prepended).

import * as t from 'io-ts';
import { ENCODER_PARAMS, ENCODER_SCOPE, PROMPT_PARAM, PROMPT_POSITIONS, PTuningConfig, parseTemplate } from '../../methods/index.js';
import {
  ExportError, intField, methodConfig, PEFT_TENSOR, promptLearningFields, tensorOfShape, type LoadContext, type LoadedPart, type PartExporter, type PartPlan, type PlanContext,
} from './common.js';

/** What the loader needs of a prompt-tuning spec (its init only matters to training). */
const PromptTuningLength = t.type({ length: t.Int }, 'prompt-tuning config');

export const promptExporter: PartExporter = {
  methods: ['prompt-tuning', 'p-tuning'],
  peftTypes: ['PROMPT_TUNING', 'P_TUNING'],

  plan(ctx: PlanContext): PartPlan {
    return ctx.spec.method === 'p-tuning' ? planPTuning(ctx) : planPromptTuning(ctx);
  },

  load(ctx: LoadContext): LoadedPart {
    const D = ctx.config.dim;
    if (ctx.spec?.method === 'p-tuning') {
      const cfg = methodConfig(PTuningConfig, ctx.spec);
      const prompt = tensorOfShape(ctx, PEFT_TENSOR, [cfg.virtualTokens, D]);
      // The folded encoder output is the embedding of an encoder-less p-tuning; tuneLm and init only matter to training.
      const spec = { method: 'p-tuning', virtualTokens: cfg.virtualTokens, encoder: 'none', ...(cfg.template !== undefined ? { template: cfg.template } : {}) };
      return { spec, params: new Map([[ENCODER_PARAMS.embedding, prompt]]) };
    }
    const P = ctx.spec ? methodConfig(PromptTuningLength, ctx.spec).length : intField(ctx, 'num_virtual_tokens');
    return { spec: { method: 'prompt-tuning', length: P }, params: new Map([[PROMPT_PARAM, tensorOfShape(ctx, PEFT_TENSOR, [P, D])]]) };
  },
};

function planPromptTuning(ctx: PlanContext): PartPlan {
  const { graph: g, config, spec } = ctx;
  const param = g.params().find((n) => n.attrs.name === PROMPT_PARAM);
  if (!param) throw new ExportError(`${spec.method}: the graph has no '${PROMPT_PARAM}' parameter`);
  return {
    tensors: new Map([[PEFT_TENSOR, param.id]]),
    adapterConfig: {
      ...ctx.peftCommon, peft_type: 'PROMPT_TUNING', ...promptLearningFields(config, param.type.shape[0]),
      prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null, tokenizer_name_or_path: null,
    },
  };
}

function planPTuning(ctx: PlanContext): PartPlan {
  const { graph: g, config, spec } = ctx;
  const cfg = methodConfig(PTuningConfig, spec);
  const P = cfg.virtualTokens;
  // The encoder output is the table the p-tuning gather reads at prompt_positions.
  const gathers = g.nodes.filter((n) => n.op === 'gather' && g.node(n.inputs[1]).op === 'input' && g.node(n.inputs[1]).attrs.name === PROMPT_POSITIONS);
  if (gathers.length !== 1) throw new ExportError(`${spec.method}: expected one gather at '${PROMPT_POSITIONS}', found ${gathers.length}`);
  const encoder = cfg.encoder ?? 'lstm';
  const notes = [placementNote(cfg.template)];
  if (cfg.tuneLm) notes.push("tuneLm: the LM's tuned weights are in training_state.safetensors, not in this PEFT artifact");
  return {
    tensors: new Map([[PEFT_TENSOR, gathers[0].inputs[0]]]),
    adapterConfig: {
      ...ctx.peftCommon, peft_type: 'P_TUNING', ...promptLearningFields(config, P),
      // Informational in inference mode (PEFT reads prompt_embeddings as the encoder's output);
      // PEFT's encoder_hidden_size is the LSTM's per-direction size, ours is D/2. PEFT has no
      // encoder-less P_TUNING: `none` is written as MLP, the spec in promptgraph.json says which.
      encoder_reparameterization_type: encoder === 'lstm' ? 'LSTM' : 'MLP',
      encoder_hidden_size: encoder === 'lstm' ? config.dim / 2 : config.dim,
      encoder_num_layers: 2,
      encoder_dropout: 0,
    },
    note: notes.join('; '),
    carried: cfg.tuneLm ? ctx.trainable.filter((n) => !n.startsWith(`${ENCODER_SCOPE}.`)) : [],
  };
}

/** What PEFT reproduces of the template: PEFT prepends the virtual tokens. */
function placementNote(template: string | undefined): string {
  if (template === undefined) return 'PEFT prepends the virtual tokens: it reproduces this model only with data that puts them all first';
  const items = parseTemplate(template).items;
  const firstOther = items.findIndex((it) => it.kind !== 'virtual');
  const front = firstOther < 0 || items.slice(firstOther).every((it) => it.kind !== 'virtual');
  return front
    ? `template ${JSON.stringify(template)} puts every virtual token first, as PEFT does (PEFT puts them before any special token the tokenizer adds)`
    : `template ${JSON.stringify(template)} puts virtual tokens after other items: PEFT, which prepends them, does not reproduce it; promptgraph.json keeps the template`;
}
