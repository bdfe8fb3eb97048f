// Importing this module registers every op.
import './defs/sources.js';
import './defs/elementwise.js';
import './defs/shape.js';
import './defs/indexing.js';
import './defs/masks.js';
import './defs/reduce.js';
import './defs/normalization.js';
import './defs/loss.js';
import './defs/matmul.js';
import './defs/fused.js';
import './defs/matmul-fused.js';
import './defs/mark.js';
import './defs/attention.js';
import './defs/attention-grad.js';

export * from './registry.js';
export * from './host.js';
export * from './builder.js';
export * from './shape.js';
export * from './evaluate.js';
export * as wgsl from './wgsl.js';
export { ELEMENTWISE_PRELUDE, hash32, DROPOUT_SEED_INPUT, stepSeed } from './defs/elementwise.js';
export * from './retype.js';
export * from './init.js';
export { SLICE_TO_END, sliceRange } from './defs/shape.js';
export { MASK_NEG } from './defs/masks.js';
