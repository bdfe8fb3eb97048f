// Prefix-tuning (Li & Liang 2021): trainable key/value prefixes at every layer, trained through
// a tanh-MLP reparameterization by default (k = 512 in the paper for table-to-text); after
// training the MLP folds into the prefix it produces (compiler `fold` pass at export).

import { defineMethod } from './method.js';
import { applyDeepPrompt, DeepPromptConfig } from './deep-prompt.js';

export const prefixTuning = defineMethod({
  name: 'prefix-tuning',
  description: 'key/value prefixes at every layer, MLP-reparameterized by default',
  config: DeepPromptConfig,
  apply: (graph, cfg) => applyDeepPrompt(graph, cfg, 'prefix-tuning', { hidden: 512 }),
});
