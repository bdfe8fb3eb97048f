// P-tuning v2 (Liu et al. 2021): deep prompts at every layer (or a subset) of an NLU encoder,
// without reparameterization by default; task heads come from the `head` transform.

import { defineMethod } from './method.js';
import { applyDeepPrompt, DeepPromptConfig } from './deep-prompt.js';

export const pTuningV2 = defineMethod({
  name: 'p-tuning-v2',
  description: 'deep prompts at every layer (no reparameterization by default)',
  config: DeepPromptConfig,
  apply: (graph, cfg) => applyDeepPrompt(graph, cfg, 'p-tuning-v2', null),
});
