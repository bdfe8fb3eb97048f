// One entry point for building either backbone from its config.

import type { Graph } from '../graph/index.js';
import { buildBert } from './bert.js';
import type { ModelConfig } from './config.js';
import { buildGpt2, type BatchShape } from './gpt2.js';

export function buildBackbone(config: ModelConfig, shape: BatchShape): Graph {
  return config.kind === 'gpt2' ? buildGpt2(config, shape) : buildBert(config, shape);
}
