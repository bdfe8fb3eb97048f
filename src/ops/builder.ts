// The builder: the API models, methods and gradient rules use to add nodes. Every node gets its
// type from the op's rule at construction, so a shape error surfaces where the node is made.

import {
  Graph, GraphError, joinScope, type AttrValue, type DType, type InsertAt, type Node, type Shape, type TensorType,
} from '../graph/index.js';
import { checkArity, decodeAttrs, getOp } from './registry.js';

/** A value in the graph being built: the node's id and its type. */
export interface Ref {
  readonly id: number;
  readonly type: TensorType;
}

export interface ParamOptions {
  trainable?: boolean;
  /** Initializer, e.g. `normal:0.02`, `zeros`, `ones`, `uniform:0.1` (see runtime/init). */
  init?: string;
  dtype?: DType;
}

export class GraphBuilder {
  private scopes: string[] = [];
  private cursor: InsertAt = 'end';

  constructor(readonly graph: Graph = new Graph()) {}

  /** The current scope (module path). */
  get scope(): string {
    return joinScope(...this.scopes);
  }

  /** Runs `fn` with `name` appended to the scope: `b.within('h.0', () => b.within('attn', ...))`. */
  within<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** Runs `fn` with a given absolute scope (used when rewriting inside an existing module). */
  inScope<T>(scope: string, fn: () => T): T {
    const saved = this.scopes;
    this.scopes = scope ? [scope] : [];
    try {
      return fn();
    } finally {
      this.scopes = saved;
    }
  }

  /**
   * Runs `fn` inserting new nodes at `pos` instead of at the end. With `{after: id}` successive
   * nodes follow one another, so the graph stays in the order they were built.
   */
  at<T>(pos: InsertAt, fn: () => T): T {
    const saved = this.cursor;
    this.cursor = pos;
    try {
      return fn();
    } finally {
      this.cursor = saved;
    }
  }

  ref(id: number): Ref {
    const n = this.graph.node(id);
    return { id: n.id, type: n.type };
  }

  /** Adds a node of `op`; checks arity and attributes and infers the output type. */
  op(op: string, inputs: readonly Ref[], attrs: Record<string, AttrValue> = {}, declared?: TensorType): Ref {
    const def = getOp(op);
    const where = `${op} @${this.scope || '<root>'}`;
    const inTypes = inputs.map((r) => this.graph.node(r.id).type);
    let type: TensorType;
    try {
      checkArity(def, inputs.length);
      type = def.type(inTypes, decodeAttrs(def, attrs, where), declared ?? { shape: [], dtype: 'f32' });
    } catch (e) {
      if (e instanceof Error) e.message = `${where} (inputs ${inTypes.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(', ') || 'none'}): ${e.message}`;
      throw e;
    }
    const node = this.graph.add({ op, inputs: inputs.map((r) => r.id), attrs, type, scope: this.scope }, this.cursor);
    if (this.cursor !== 'end' && 'after' in this.cursor) this.cursor = { after: node.id };
    return { id: node.id, type };
  }

  // ---- sources ----------------------------------------------------------------------------

  input(name: string, shape: Shape, dtype: DType = 'f32'): Ref {
    return this.op('input', [], { name }, { shape: [...shape], dtype });
  }

  param(name: string, shape: Shape, opts: ParamOptions = {}): Ref {
    const attrs: Record<string, AttrValue> = { name, trainable: opts.trainable ?? false };
    if (opts.init !== undefined) attrs.init = opts.init;
    return this.op('param', [], attrs, { shape: [...shape], dtype: opts.dtype ?? 'f32' });
  }

  /** A tensor filled with one value. */
  constant(value: number, shape: Shape = [], dtype: DType = 'f32'): Ref {
    return this.op('const', [], { value }, { shape: [...shape], dtype });
  }

  output(name: string, r: Ref): void {
    this.graph.setOutput(name, r.id);
  }

  // ---- element-wise -----------------------------------------------------------------------

  add(a: Ref, b: Ref): Ref { return this.op('add', [a, b]); }
  sub(a: Ref, b: Ref): Ref { return this.op('sub', [a, b]); }
  mul(a: Ref, b: Ref): Ref { return this.op('mul', [a, b]); }
  div(a: Ref, b: Ref): Ref { return this.op('div', [a, b]); }
  neg(x: Ref): Ref { return this.op('neg', [x]); }
  exp(x: Ref): Ref { return this.op('exp', [x]); }
  log(x: Ref): Ref { return this.op('log', [x]); }
  sqrt(x: Ref): Ref { return this.op('sqrt', [x]); }
  tanh(x: Ref): Ref { return this.op('tanh', [x]); }
  relu(x: Ref): Ref { return this.op('relu', [x]); }
  sigmoid(x: Ref): Ref { return this.op('sigmoid', [x]); }
  /** GELU, tanh approximation (as GPT-2). */
  gelu(x: Ref): Ref { return this.op('gelu', [x]); }
  /** GELU, exact erf form (BERT's `gelu`). */
  geluErf(x: Ref): Ref { return this.op('gelu_erf', [x]); }
  /** Identity naming an insertion point (see ops/defs/mark.ts). */
  mark(x: Ref, point: string): Ref { return this.op('mark', [x], { point }); }
  /** x * factor. */
  scale(x: Ref, factor: number): Ref { return this.op('scale', [x], { factor }); }
  cast(x: Ref, to: DType): Ref { return this.op('cast', [x], { to }); }
  /** cond != 0 ? a : b, broadcasting all three. */
  where(cond: Ref, a: Ref, b: Ref): Ref { return this.op('where', [cond, a, b]); }
  /** 1 where a == b, else 0. */
  equal(a: Ref, b: Ref): Ref { return this.op('equal', [a, b]); }
  /** 1 where a > b, else 0. */
  greater(a: Ref, b: Ref): Ref { return this.op('greater', [a, b]); }
  /** Identity in the forward pass; blocks gradients. */
  stopGradient(x: Ref): Ref { return this.op('stop_gradient', [x]); }
  /** Inverted dropout with a counter-based RNG keyed by the i32 scalar `seed`. */
  dropout(x: Ref, seed: Ref, p: number): Ref { return this.op('dropout', [x, seed], { p }); }

  // ---- linear algebra ---------------------------------------------------------------------

  /** Batched matmul [...,M,K] x [...,K,N] with broadcast batch dims; transposes read the last two axes swapped. */
  matmul(a: Ref, b: Ref, opts: { transA?: boolean; transB?: boolean } = {}): Ref {
    return this.op('matmul', [a, b], { transA: opts.transA ?? false, transB: opts.transB ?? false });
  }

  // ---- normalization and attention --------------------------------------------------------

  layernorm(x: Ref, gamma: Ref, beta: Ref, eps: number): Ref { return this.op('layernorm', [x, gamma, beta], { eps }); }
  /** Softmax over the last axis, after adding `mask` (broadcast) when given. */
  softmax(x: Ref, mask?: Ref): Ref { return this.op('softmax', mask ? [x, mask] : [x]); }
  /** Additive causal mask [queries, keys]: query i sees key j when j <= i + (keys - queries). */
  causalMask(queries: number, keys: number): Ref { return this.op('causal_mask', [], { queries, keys }); }
  /** Additive mask [B,1,1,S] from a 0/1 attention mask [B,S]: 0 where 1, a large negative where 0. */
  paddingMask(attentionMask: Ref): Ref { return this.op('padding_mask', [attentionMask]); }

  // ---- shape --------------------------------------------------------------------------------

  reshape(x: Ref, shape: readonly number[]): Ref { return this.op('reshape', [x], { shape: [...shape] }); }
  permute(x: Ref, perm: readonly number[]): Ref { return this.op('permute', [x], { perm: [...perm] }); }
  /** Swaps the last two axes. */
  transpose(x: Ref): Ref {
    const r = x.type.shape.length;
    if (r < 2) throw new GraphError(`transpose needs rank >= 2, got ${r}`);
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return this.permute(x, perm);
  }
  /** Broadcasts x (numpy rules) to `shape`. */
  broadcastTo(x: Ref, shape: readonly number[]): Ref { return this.op('broadcast_to', [x], { shape: [...shape] }); }
  concat(xs: readonly Ref[], axis: number): Ref { return this.op('concat', xs, { axis }); }
  slice(x: Ref, axis: number, start: number, end: number): Ref { return this.op('slice', [x], { axis, start, end }); }
  /** out = table indexed by `indices` along `axis` (an embedding lookup is axis 0). Out of range gives 0. */
  gather(table: Ref, indices: Ref, axis = 0): Ref { return this.op('gather', [table, indices], { axis }); }
  /** base with slices along `axis` at `indices` replaced by `updates` (indices should be distinct). */
  scatter(base: Ref, indices: Ref, updates: Ref, axis = 0): Ref { return this.op('scatter', [base, indices, updates], { axis }); }
  /** base plus `updates` summed into the slices at `indices` along `axis` (duplicates accumulate). */
  scatterAdd(base: Ref, indices: Ref, updates: Ref, axis = 0): Ref { return this.op('scatter_add', [base, indices, updates], { axis }); }

  // ---- helper op of the shape ops (backward of slice) ---------------------------------------

  /** `before` zeros, x, then `after` zeros along `axis`. */
  pad(x: Ref, axis: number, before: number, after: number): Ref { return this.op('pad', [x], { axis, before, after }); }

  // ---- reductions and losses --------------------------------------------------------------

  sum(x: Ref, axes: readonly number[], keepdims = false): Ref { return this.op('reduce_sum', [x], { axes: [...axes], keepdims }); }
  mean(x: Ref, axes: readonly number[], keepdims = false): Ref { return this.op('reduce_mean', [x], { axes: [...axes], keepdims }); }
  max(x: Ref, axes: readonly number[], keepdims = false): Ref { return this.op('reduce_max', [x], { axes: [...axes], keepdims }); }
  /** Mean cross-entropy of logits [..., C] against i32 labels [...], skipping `ignoreIndex`. */
  crossEntropy(logits: Ref, labels: Ref, ignoreIndex = -100): Ref {
    return this.op('cross_entropy', [logits, labels], { ignoreIndex });
  }
}

/** Node → Ref, for code that walks an existing graph. */
export function refOf(n: Node): Ref {
  return { id: n.id, type: n.type };
}
