// Importing this module registers every method.
import './prompt-tuning.js';
import './prefix-tuning.js';
import './p-tuning-v2.js';

export * from './method.js';
export * from '../graph/index.js';
export * from './sequence.js';
export * from './layers.js';
export * from './init.js';
export { PROMPT_PARAM } from './prompt-tuning.js';
export { PREFIX, DeepPromptConfig } from './deep-prompt.js';
