// Importing this module registers every op.
import './defs/sources.js';
import './defs/elementwise.js';

export * from './registry.js';
export * from './host.js';
export * from './builder.js';
export * from './shape.js';
export * as wgsl from './wgsl.js';
export { ELEMENTWISE_PRELUDE, hash32 } from './defs/elementwise.js';
