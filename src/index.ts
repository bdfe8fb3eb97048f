export * from './graph/index.js';
export * from './ops/index.js';
export * from './runtime/index.js';
export * from './passes/index.js';
export * from './models/index.js';
export * from './methods/index.js';
export { prefixFromActivations } from './pipelines/prefix-init.js';
