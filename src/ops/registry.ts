// The op registry: one entry per op holds everything about it (attributes, type rule, CPU
// reference, WGSL generator, cost, gradient rule). Nothing about an op lives anywhere else.

import * as t from 'io-ts';
import { decodeOrThrow } from '../util/decode.js';
import { GraphError, type Attrs, type Node, type OpSchemas, type TensorType } from '../graph/index.js';
import type { HostTensor } from './host.js';
import type { GraphBuilder, Ref } from './builder.js';
import type { MatmulVariant } from './defs/matmul-kernels.js';

export interface Cost {
  /** Floating-point operations (a multiply-add counts 2). */
  readonly flops: number;
  /** Bytes read plus bytes written by a straightforward kernel. */
  readonly bytes: number;
}

/** What a kernel generator may know about the device it generates for. */
export interface KernelTarget {
  /** 'cpu' for software adapters (lavapipe, SwiftShader), 'gpu' for hardware: variants differ. */
  readonly kind: 'cpu' | 'gpu';
  readonly f16: boolean;
  readonly subgroups: boolean;
  readonly maxWorkgroupsPerDimension: number;
  readonly maxInvocationsPerWorkgroup: number;
  readonly maxWorkgroupStorageSize: number;
  /** Storage buffers one kernel may bind (inputs + output). */
  readonly maxStorageBuffers: number;
  /** Largest storage buffer one binding may cover, in bytes (the `shard` pass splits larger parameters). */
  readonly maxStorageBufferBindingSize: number;
  /** The adapter's smallest subgroup, when it reports one (kernels sharing values across 8 lanes need >= 8). */
  readonly subgroupMinSize?: number;
  /**
   * Matmul variants measured fastest on this adapter, by `matmulProblemKey` (runtime/autotune.ts);
   * a problem not in the map gets the heuristic choice.
   */
  readonly matmulChoices?: ReadonlyMap<string, MatmulVariant>;
}

/** Used where no device is at hand (tests of codegen, inspect): a conservative software target. */
export const DEFAULT_TARGET: KernelTarget = {
  kind: 'cpu', f16: false, subgroups: false,
  maxWorkgroupsPerDimension: 65535, maxInvocationsPerWorkgroup: 256, maxWorkgroupStorageSize: 16384, maxStorageBuffers: 8,
  maxStorageBufferBindingSize: 134217728,
};

export interface KernelContext<A> {
  readonly inputs: readonly TensorType[];
  readonly output: TensorType;
  readonly attrs: A;
  readonly target: KernelTarget;
}

/**
 * A WGSL compute kernel for one node. Binding convention (group 0): binding i is input i
 * (`var<storage, read>`), binding n (= number of inputs) is the output (`read_write`).
 * Shapes are baked into the source, so one source = one pipeline in the cache.
 */
export interface Kernel {
  readonly code: string;
  readonly workgroups: readonly [number, number, number];
  /** Which variant was chosen (e.g. `matmul.blocked4x8`), for inspect and benches. */
  readonly variant: string;
}

export interface GradInputs<A> {
  readonly inputs: readonly Ref[];
  readonly output: Ref;
  readonly attrs: A;
  /** Which inputs need a cotangent; a rule may return null for the others and build nothing. */
  readonly needs: readonly boolean[];
}

/**
 * Reverse-mode rule: given the output's cotangent `dy`, build the cotangents of the inputs in
 * `b` (null where an input takes no gradient, e.g. integer ids). Filled in by the compiler issue.
 */
export type GradRule<A> = (b: GraphBuilder, x: GradInputs<A>, dy: Ref) => readonly (Ref | null)[];

export interface OpDef<A> {
  readonly name: string;
  /** One line: what the op computes. */
  readonly doc: string;
  /** Number of inputs, or 'variadic' (at least one). */
  readonly arity: number | 'variadic';
  readonly attrs: t.Type<A, unknown, unknown>;
  /** Output type from input types; throw ShapeError naming the disagreeing shapes. `declared` is the node's recorded type (used by source ops). */
  type(inputs: readonly TensorType[], attrs: A, declared: TensorType): TensorType;
  /** CPU reference in float64 (floats) or int32: the oracle for every kernel. Source ops have none. */
  reference?(inputs: readonly HostTensor[], attrs: A, out: TensorType): HostTensor;
  /** WGSL generator. Source ops (input, param) have none: the runtime binds their buffers. */
  kernel?(ctx: KernelContext<A>): Kernel;
  /** For element-wise ops: one output element as a WGSL f32 expression of the inputs' elements. */
  elementwise?(args: readonly string[], attrs: A): string;
  /**
   * The output is input 0's bytes under another type (reshape): compiled programs bind input 0's
   * buffer instead of running `kernel`, which only runs where a copy is needed (a graph output).
   */
  readonly view?: true;
  cost(inputs: readonly TensorType[], out: TensorType, attrs: A): Cost;
  grad?: GradRule<A>;
}

/** An entry with its attribute type erased, as stored in the registry. */
export type AnyOpDef = OpDef<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const registry = new Map<string, AnyOpDef>();

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  if (registry.has(def.name)) throw new Error(`op '${def.name}' is defined twice`);
  registry.set(def.name, def);
  return def;
}

export function hasOp(name: string): boolean {
  return registry.has(name);
}

export function opNames(): string[] {
  return [...registry.keys()].sort();
}

export function getOp(name: string): AnyOpDef {
  const def = registry.get(name);
  if (!def) throw new GraphError(`unknown op '${name}'; known ops: ${opNames().join(', ')}`);
  return def;
}

/** Decodes a node's attributes with its op's codec; errors name the node and the attribute. */
export function decodeAttrs<A>(def: OpDef<A>, attrs: Attrs, where: string): A {
  return decodeOrThrow(def.attrs, attrs, `attributes of ${where}`);
}

export function nodeAttrs(node: Node): unknown {
  return decodeAttrs(getOp(node.op), node.attrs, `${node.op} node %${node.id}`);
}

export function checkArity(def: AnyOpDef, count: number): void {
  const ok = def.arity === 'variadic' ? count >= 1 : count === def.arity;
  if (!ok) throw new GraphError(`op '${def.name}' takes ${def.arity === 'variadic' ? 'one or more' : def.arity} input(s), got ${count}`);
}

/** The registry seen as schemas, for `validate` in the graph layer. */
export const opSchemas: OpSchemas = {
  has: hasOp,
  names: opNames,
  inferType(node: Node, inputs: readonly TensorType[]): TensorType {
    const def = getOp(node.op);
    checkArity(def, inputs.length);
    return def.type(inputs, decodeAttrs(def, node.attrs, 'the node'), node.type);
  },
};
