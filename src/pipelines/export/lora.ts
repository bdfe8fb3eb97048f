// LoRA in PEFT's layout: nothing to fold (the factors are the parameters). Our names are PEFT's
// without the wrapper prefixes: PEFT saves `base_model.model.<module>.lora_A.weight` where
// <module> is the Hugging Face model's module path (`transformer.h.0.attn.c_attn` in
// GPT2LMHeadModel, `bert.encoder.layer.0.attention.self.query` in Bert*), and ours is
// `h.0.attn.c_attn.lora_A.weight` (models/checkpoint.ts strips `transformer.` / `bert.`).
// The factors' layouts agree: lora_A [r, in], lora_B [out, r], for nn.Linear and for GPT-2's
// Conv1D alike (PEFT's fan_in_fan_out only transposes the base weight).

import { buildBackbone, type ModelConfig } from '../../models/index.js';
import { LORA, LoraConfig, linearModules } from '../../methods/index.js';
import type { HostTensor } from '../../ops/index.js';
import {
  ExportError, intField, methodConfig, type LoadContext, type LoadedPart, type PartExporter, type PartPlan, type PlanContext,
} from './common.js';

const PEFT_PREFIX = 'base_model.model.';
const A_SUFFIX = '.lora_A.weight', B_SUFFIX = '.lora_B.weight';

/** Our module name -> the Hugging Face model's (heads outside the base model keep theirs). */
function hfModule(config: ModelConfig, module: string): string {
  if (module.startsWith('lm_head') || module.startsWith('cls.')) return module;
  return `${config.kind === 'gpt2' ? 'transformer' : 'bert'}.${module}`;
}

function ourModule(config: ModelConfig, hf: string): string {
  const base = `${config.kind === 'gpt2' ? 'transformer' : 'bert'}.`;
  return hf.startsWith(base) ? hf.slice(base.length) : hf;
}

export const loraExporter: PartExporter = {
  methods: ['lora'],
  peftTypes: ['LORA'],

  plan(ctx: PlanContext): PartPlan {
    const { graph: g, config, spec } = ctx;
    const cfg = methodConfig(LoraConfig, spec);
    const modules = ctx.trainable.filter((n) => n.endsWith(A_SUFFIX)).map((n) => n.slice(0, -A_SUFFIX.length));
    if (modules.length === 0) throw new ExportError(`${spec.method}: no LoRA factors among its parameters`);
    const byName = new Map(g.params().map((p) => [String(p.attrs.name), p.id] as const));
    const tensors = new Map<string, number>();
    for (const m of modules) {
      for (const name of [LORA.a(m), LORA.b(m)]) {
        const id = byName.get(name);
        if (id === undefined) throw new ExportError(`${spec.method}: the graph has no parameter '${name}'`);
        tensors.set(`${PEFT_PREFIX}${hfModule(config, name.slice(0, -A_SUFFIX.length))}${name.slice(-A_SUFFIX.length)}`, id);
      }
    }
    return {
      tensors,
      adapterConfig: {
        ...ctx.peftCommon, peft_type: 'LORA', r: cfg.rank, lora_alpha: cfg.alpha ?? cfg.rank, lora_dropout: 0,
        // Full module paths: PEFT matches a target equal to the module name exactly (our `layers` and patterns resolved).
        target_modules: modules.map((m) => hfModule(config, m)),
        fan_in_fan_out: config.kind === 'gpt2', bias: 'none', use_rslora: false, modules_to_save: null,
        init_lora_weights: true, layers_to_transform: null, layers_pattern: null,
      },
    };
  },

  load(ctx: LoadContext): LoadedPart {
    const { config } = ctx;
    const file = `${ctx.dir}/adapter_model.safetensors`;
    if (ctx.adapterConfig) {
      if (ctx.adapterConfig.use_rslora === true) throw new ExportError(`${ctx.dir}/adapter_config.json: use_rslora true (scale alpha/sqrt(r)) is not supported; our LoRA scales by alpha/r`);
      const bias = ctx.adapterConfig.bias ?? 'none';
      if (bias !== 'none') throw new ExportError(`${ctx.dir}/adapter_config.json: bias ${JSON.stringify(bias)}: trained biases are not supported (expected "none")`);
    }
    // The backbone's linear modules and their sizes, to check every factor's shape.
    const linear = new Map(linearModules(buildBackbone(config, { batch: 1, seq: 1, labels: false })).map((m) => [m.module, m] as const));
    const params = new Map<string, HostTensor>();
    const modules: string[] = [];
    let rank: number | undefined;
    for (const [key, x] of ctx.tensors) {
      const ab = key.endsWith(A_SUFFIX) ? 'A' : key.endsWith(B_SUFFIX) ? 'B' : undefined;
      if (!key.startsWith(PEFT_PREFIX) || !ab) throw new ExportError(`${file}: tensor '${key}' is not a LoRA factor (expected ${PEFT_PREFIX}<module>${A_SUFFIX} or ${B_SUFFIX})`);
      const module = ourModule(config, key.slice(PEFT_PREFIX.length, -A_SUFFIX.length));
      const m = linear.get(module);
      if (!m) throw new ExportError(`${file}: ${key}: the backbone (${config.kind}) has no linear module '${module}'`);
      const r = ab === 'A' ? x.shape[0] : x.shape[1];
      const want = ab === 'A' ? [r, m.in] : [m.out, r];
      if (x.shape.length !== 2 || x.shape[0] !== want[0] || x.shape[1] !== want[1]) throw new ExportError(`${file}: ${key} shape: artifact [${x.shape.join(', ')}], backbone needs [${want.join(', ')}]`);
      if (rank !== undefined && r !== rank) throw new ExportError(`${file}: ${key} has rank ${r}, other factors ${rank}`);
      rank = r;
      if (ab === 'A') modules.push(module);
      params.set(ab === 'A' ? LORA.a(module) : LORA.b(module), x);
    }
    for (const m of modules) if (!params.has(LORA.b(m))) throw new ExportError(`${file}: ${PEFT_PREFIX}${hfModule(config, m)}${B_SUFFIX} is missing (its lora_A is there)`);
    if (modules.length === 0 || rank === undefined) throw new ExportError(`${file}: no LoRA factors`);
    if (ctx.spec) return { spec: ctx.spec, params };
    const r = intField(ctx, 'r');
    if (r !== rank) throw new ExportError(`${ctx.dir}/adapter_config.json: r: config ${r}, tensors ${rank}`);
    const alpha = ctx.adapterConfig?.lora_alpha ?? r;
    if (typeof alpha !== 'number') throw new ExportError(`${ctx.dir}/adapter_config.json: lora_alpha: expected a number, got ${JSON.stringify(alpha)}`);
    return { spec: { method: 'lora', rank: r, alpha, targets: modules }, params };
  },
};
