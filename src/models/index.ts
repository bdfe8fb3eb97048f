
export * from './attention.js';
export * from './gpt2.js';
export * from './bert.js';
export * from './config.js';
export * from './safetensors.js';
export * from './checkpoint.js';
export * from './tokenizers/index.js';
export * from './backbone.js';
export * from './tiny.js';
export * from './decode.js';
