// Deep prompts (prefix-tuning, P-tuning v2): the prompt [P, Lsel*2*D] the `prefix` scope computes
// (the reparameterization MLP folds into it), written as `prompt_embeddings`.
//
// PEFT's PREFIX_TUNING reads the tensor as [P, L*2*D], a block pair for every layer, and always
// shifts real tokens' positions by P (Hugging Face models do with past_key_values). So a prompt
// on a layer subset, or with `positions: 'unshifted'`, has no PEFT form: no adapter_config.json
// is written for it (a directory without one is not a PEFT adapter to any PEFT tool, which is
// clearer than a config whose tensor PEFT would reject by shape or run with other positions).
// promptgraph.json keeps the spec (with its `layers`), so our loader restores the same layers.

import { DeepPromptConfig, PREFIX, selectLayers } from '../../methods/index.js';
import {
  ExportError, intField, methodConfig, PEFT_TENSOR, promptLearningFields, tensorOfShape, type LoadContext, type LoadedPart, type PartExporter, type PartPlan, type PlanContext,
} from './common.js';

const PREFIX_SCOPE = 'prefix';

export const deepExporter: PartExporter = {
  methods: ['prefix-tuning', 'p-tuning-v2'],
  peftTypes: ['PREFIX_TUNING'],

  plan(ctx: PlanContext): PartPlan {
    const { config, spec, graph: g } = ctx;
    const cfg = methodConfig(DeepPromptConfig, spec);
    const layers = selectLayers(cfg.layers, config.layers, spec.method);
    const P = cfg.length, width = layers.length * 2 * config.dim;
    // The prompt is the last [P, width] node of the `prefix` scope: the parameter itself, or the MLP's output.
    const hits = g.nodes.filter((n) => (n.scope === PREFIX_SCOPE || n.scope.startsWith(`${PREFIX_SCOPE}.`)) && n.type.shape.length === 2 && n.type.shape[0] === P && n.type.shape[1] === width);
    if (hits.length === 0) throw new ExportError(`${spec.method}: no [${P}, ${width}] prompt tensor in scope '${PREFIX_SCOPE}'`);
    const tensors = new Map([[PEFT_TENSOR, hits[hits.length - 1].id]]);
    const why: string[] = [];
    if (layers.length !== config.layers) why.push(`it covers layers ${layers.join(', ')} of ${config.layers}, and PEFT's PREFIX_TUNING layout has a block for every layer`);
    if (cfg.positions === 'unshifted') why.push("its real tokens' positions are unshifted, and PEFT always shifts them by the prefix length");
    if (why.length) return { tensors, adapterConfig: null, note: `not PEFT-loadable (no adapter_config.json): ${why.join('; ')}. promptgraph.json loads it` };
    return {
      tensors,
      adapterConfig: { ...ctx.peftCommon, peft_type: 'PREFIX_TUNING', ...promptLearningFields(config, P), encoder_hidden_size: config.dim, prefix_projection: false },
    };
  },

  load(ctx: LoadContext): LoadedPart {
    const { config } = ctx;
    if (ctx.adapterConfig?.prefix_projection === true) throw new ExportError(`${ctx.dir}/adapter_config.json: prefix_projection true: the artifact holds the MLP, not the folded prompt`);
    if (ctx.spec) {
      const cfg = methodConfig(DeepPromptConfig, ctx.spec);
      const layers = selectLayers(cfg.layers, config.layers, ctx.spec.method);
      const prompt = tensorOfShape(ctx, PEFT_TENSOR, [cfg.length, layers.length * 2 * config.dim]);
      // Inference needs the prompt only: no reparameterization, no init.
      const { initStd: _s, initText: _t, reparam: _r, ...rest } = ctx.spec;
      return { spec: { ...rest, method: ctx.spec.method, reparam: null }, params: new Map([[PREFIX.direct, prompt]]) };
    }
    const P = intField(ctx, 'num_virtual_tokens');
    const prompt = tensorOfShape(ctx, PEFT_TENSOR, [P, config.layers * 2 * config.dim]);
    return { spec: { method: 'prefix-tuning', length: P, reparam: null }, params: new Map([[PREFIX.direct, prompt]]) };
  },
};
