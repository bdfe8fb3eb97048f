// Pass infrastructure: a pass is a named step over the IR that states what it requires and what
// it ensures, and returns the new graph and whether it changed anything.

import type { Graph } from '../graph/index.js';
import type { ParamStore } from '../ops/index.js';
import type { KernelTarget } from '../ops/index.js';

/** Properties passes establish and depend on. */
export type Property =
  | 'frozen' // every parameter carries its final trainable/frozen mark
  | 'scalar-loss' // the graph has a scalar f32 output named `loss`
  | 'gradients' // outputs `grad:<param>` hold the loss gradient of every trainable parameter
  | 'optimizer' // outputs `next:<state>` hold the updated parameters and optimizer state
  | 'folded' // frozen-only subgraphs are constants
  | 'fused'; // element-wise chains are fused into single kernels

export interface PassContext {
  readonly target: KernelTarget;
  /** Parameter values, for passes that evaluate at compile time (folding). Updated in place. */
  readonly params: ParamStore;
  /** Free-form notes a pass leaves for inspect (e.g. how many nodes it fused). */
  readonly notes: string[];
}

export interface PassResult {
  readonly graph: Graph;
  readonly changed: boolean;
}

export interface Pass {
  readonly name: string;
  readonly description: string;
  readonly requires: readonly Property[];
  readonly ensures: readonly Property[];
  run(graph: Graph, ctx: PassContext): PassResult;
}

export class CompileError extends Error {
  override name = 'CompileError';
}
