// Reductions (sum, mean, max over any set of axes) and the row-kernel builder that the
// normalization and loss ops share: a "row" is the run of elements one output value reads.

import * as t from 'io-ts';
import { formatShape, isFloat, numel, ShapeError, stridesOf, type Shape, type TensorType } from '../../graph/index.js';
import { defineOp, type Kernel, type KernelTarget, type OpDef } from '../registry.js';
import { hostZeros, type HostTensor } from '../host.js';
import { streamingCost } from '../shape.js';
import { bindings, entry, f32, linearGrid, load, store } from '../wgsl.js';
import type { GraphBuilder, Ref } from '../builder.js';

// ---- row kernels ------------------------------------------------------------------------------

/**
 * WGSL helpers for reductions. NaN is tested on the bits because WGSL's max() may drop a NaN
 * operand, and the tests want a NaN anywhere in a row to reach the result, as in the reference.
 */
export const ROW_PRELUDE = `
fn pg_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn pg_max(a: f32, b: f32) -> f32 { return select(select(max(a, b), b, pg_isnan(b)), a, pg_isnan(a)); }
`;

/**
 * `serial`: one invocation per row with a plain loop (software adapters: lavapipe runs a
 * workgroup's invocations in SIMD lanes of one thread and pays for every barrier).
 * `workgroup`: one workgroup per row with a shared-memory tree (hardware GPUs).
 */
export type RowMode = 'serial' | 'workgroup';

export function rowModeFor(target: KernelTarget): RowMode {
  return target.kind === 'cpu' ? 'serial' : 'workgroup';
}

/** Serial sums add blocks of this many elements first, so rounding grows with ~(32 + n/32), not n. */
const BLOCK = 32;

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Workgroup size cap for tree reductions: a power of two, at most 256 and the device limit. */
export function treeWidth(target: KernelTarget): number {
  let p = 1;
  while (p * 2 <= Math.min(256, target.maxInvocationsPerWorkgroup)) p *= 2;
  return p;
}

/**
 * WGSL tree reduction of `arr[slot .. slot + lanes)` into `arr[slot]` (`lanes` a power of two,
 * `t` the invocation's index among those lanes). Every invocation of the workgroup must reach
 * it, after a barrier that follows the writes to `arr`.
 */
export function treeReduce(arr: string, lanes: number, combine: (a: string, b: string) => string, t = 'lid.x', slot = 'lid.x'): string {
  if (lanes <= 1) return '';
  return `for (var s = ${lanes / 2}u; s > 0u; s >>= 1u) {
    if (${t} < s) { ${arr}[${slot}] = ${combine(`${arr}[${slot}]`, `${arr}[${slot} + s]`)}; }
    workgroupBarrier();
  }`;
}

/**
 * Builds a kernel that handles `rows` independent rows of `cols` elements. In the statements
 * added, `row` is the row index and `j` the column inside loops; `sum`/`max` declare a value
 * reduced over the columns, `each` runs a statement per column (in workgroup mode each
 * invocation visits its own columns, so an `each` may read back what an earlier `each` wrote).
 */
export class RowKernel {
  readonly wg: number;
  private readonly body: string[] = [];
  private readonly shared = new Map<string, string>();

  constructor(readonly mode: RowMode, readonly rows: number, readonly cols: number, private readonly target: KernelTarget) {
    const cap = treeWidth(target);
    this.wg = mode === 'serial' ? Math.min(64, cap) : Math.min(Math.max(nextPow2(cols), 32), cap);
  }

  line(stmt: string): this {
    this.body.push(stmt);
    return this;
  }

  private loop(from = '0u'): string {
    return this.mode === 'serial' ? `for (var j = ${from}; j < ${this.cols}u; j++)` : `for (var j = lid.x; j < ${this.cols}u; j += ${this.wg}u)`;
  }

  private tree(name: string, type: string, partial: string, combine: (a: string, b: string) => string): void {
    let arr = this.shared.get(type);
    if (!arr) this.shared.set(type, (arr = `pg_red${this.shared.size}`));
    this.body.push(`${arr}[lid.x] = ${partial};\n  workgroupBarrier();\n  ${treeReduce(arr, this.wg, combine)}\n  let ${name} = ${arr}[0];\n  workgroupBarrier();`);
  }

  /** `name` = sum over columns of `expr` (statements `pre` may bind values used by it). */
  sum(name: string, expr: string, opts: { type?: string; pre?: string } = {}): this {
    const type = opts.type ?? 'f32';
    const pre = opts.pre ? `${opts.pre} ` : '';
    if (this.mode === 'serial') {
      // Blocked: rounding error grows with the block count and block length, not the row length.
      const inner = `for (var j = jb; j < min(jb + ${BLOCK}u, ${this.cols}u); j++) { ${pre}blk += ${expr}; }`;
      this.body.push(`var ${name} = ${type}();\n  for (var jb = 0u; jb < ${this.cols}u; jb += ${BLOCK}u) {\n    var blk = ${type}();\n    ${inner}\n    ${name} += blk;\n  }`);
    } else {
      this.body.push(`var p_${name} = ${type}();\n  ${this.loop()} { ${pre}p_${name} += ${expr}; }`);
      this.tree(name, type, `p_${name}`, (a, b) => `${a} + ${b}`);
    }
    return this;
  }

  /** `name` = max over columns of `expr`, NaN if any is NaN. Seeded with column 0, so needs cols >= 1. */
  max(name: string, expr: string, pre = ''): this {
    const v = this.mode === 'serial' ? name : `p_${name}`;
    this.body.push(`var ${v}: f32;\n  { let j = 0u; ${pre} ${v} = ${expr}; }\n  ${this.loop(this.mode === 'serial' ? '1u' : '0u')} { ${pre} ${v} = pg_max(${v}, ${expr}); }`);
    if (this.mode === 'workgroup') this.tree(name, 'f32', v, (a, b) => `pg_max(${a}, ${b})`);
    return this;
  }

  each(stmt: string): this {
    this.body.push(`${this.loop()} { ${stmt} }`);
    return this;
  }

  build(inputs: readonly TensorType[], output: TensorType, variant: string): Kernel {
    const { rows, wg } = this;
    const decls = [...this.shared].map(([type, arr]) => `var<workgroup> ${arr}: array<${type}, ${wg}>;`).join('\n');
    let workgroups: [number, number, number];
    let prologue: string;
    if (this.mode === 'serial') {
      const grid = linearGrid(rows, this.target, wg);
      workgroups = grid.workgroups;
      prologue = `${grid.prologue}\n  let row = i;`;
    } else {
      const x = Math.max(1, Math.min(rows, this.target.maxWorkgroupsPerDimension));
      const y = Math.ceil(rows / x);
      workgroups = [x, Math.max(1, y), 1];
      // wid is uniform, so returning here keeps the barriers below in uniform control flow.
      prologue = `let row = wid.x + wid.y * ${x}u;\n  if (row >= ${rows}u) { return; }`;
    }
    // A kernel with nothing to do is never dispatched; leaving its body out avoids index math
    // over zero extents, which WGSL may reject as a constant division by zero.
    const body = rows === 0 || this.cols === 0 ? '' : this.body.join('\n  ');
    const code = `${bindings(inputs, output)}\n${ROW_PRELUDE}\n${decls}\n${entry(wg)} {\n  ${prologue}\n  ${body}\n}\n`;
    return { code, workgroups, variant: `${variant}.${this.mode}` };
  }
}

// ---- axes -------------------------------------------------------------------------------------

/** Normalizes reduction axes (negative allowed) and rejects duplicates, naming the shape. */
export function reduceAxes(shape: Shape, axes: readonly number[]): number[] {
  const rank = shape.length;
  const out = axes.map((a) => {
    const n = a < 0 ? a + rank : a;
    if (!Number.isInteger(n) || n < 0 || n >= rank) throw new ShapeError(`reduction axis ${a} is out of range for shape ${formatShape(shape)} (rank ${rank})`);
    return n;
  });
  if (new Set(out).size !== out.length) throw new ShapeError(`reduction axes [${axes.join(',')}] repeat an axis of shape ${formatShape(shape)}`);
  return out.sort((a, b) => a - b);
}

/** The output shape: reduced axes dropped, or kept as 1 with `keepdims`. */
function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const set = new Set(axes);
  return keepdims ? shape.map((d, k) => (set.has(k) ? 1 : d)) : shape.filter((_d, k) => !set.has(k));
}

interface Group { size: number; stride: number }

/**
 * The input seen as kept and reduced axis groups (adjacent axes of one kind merged, size-1
 * axes dropped): output `o` reads `base(o) + off(r)` for r in [0, count).
 */
export interface ReduceLayout {
  readonly kept: readonly Group[];
  readonly reduced: readonly Group[];
  readonly count: number;
  /** Whether the innermost non-trivial axis is reduced: rows are contiguous in memory. */
  readonly innerReduced: boolean;
}

export function reduceLayout(shape: Shape, axes: readonly number[]): ReduceLayout {
  const set = new Set(axes);
  const strides = stridesOf(shape);
  const kept: Group[] = [], reduced: Group[] = [];
  let last: boolean | undefined;
  for (let k = 0; k < shape.length; k++) {
    if (shape[k] === 1) continue;
    const red = set.has(k);
    const list = red ? reduced : kept;
    if (last === red) {
      const g = list[list.length - 1];
      g.size *= shape[k];
      g.stride = strides[k];
    } else list.push({ size: shape[k], stride: strides[k] });
    last = red;
  }
  return { kept, reduced, count: numel(reduced.map((g) => g.size)), innerReduced: last === true };
}

/** Flat offset of group coordinates decoded from index `idx`, as host arithmetic. */
function groupOffset(groups: readonly Group[], idx: number): number {
  let off = 0;
  for (let k = groups.length - 1; k >= 0; k--) {
    off += (idx % groups[k].size) * groups[k].stride;
    idx = Math.floor(idx / groups[k].size);
  }
  return off;
}

/** The same as WGSL (u32). */
function groupOffsetWgsl(groups: readonly Group[], idx: string): string {
  if (groups.length === 0) return '0u';
  let div = 1;
  const terms: string[] = [];
  for (let k = groups.length - 1; k >= 0; k--) {
    const { size, stride } = groups[k];
    const q = div === 1 ? idx : `(${idx} / ${div}u)`;
    const c = k === 0 ? q : `(${q} % ${size}u)`;
    terms.push(stride === 1 ? c : `${c} * ${stride}u`);
    div *= size;
  }
  return terms.join(' + ');
}

// ---- the ops ----------------------------------------------------------------------------------

const ReduceAttrs = t.type({ axes: t.array(t.Int), keepdims: t.boolean });
type ReduceAttrs = t.TypeOf<typeof ReduceAttrs>;
type Kind = 'sum' | 'mean' | 'max';

function reduceType(kind: Kind, x: TensorType, a: ReduceAttrs): TensorType {
  if (!isFloat(x.dtype)) throw new ShapeError(`reduce_${kind} takes a float tensor, got ${x.dtype}${formatShape(x.shape)}`);
  const axes = reduceAxes(x.shape, a.axes);
  const out = reducedShape(x.shape, axes, a.keepdims);
  const count = numel(axes.map((k) => x.shape[k]));
  if (count === 0 && kind !== 'sum' && numel(out) > 0) {
    throw new ShapeError(`reduce_${kind} over axes [${a.axes.join(',')}] of ${formatShape(x.shape)} has no elements to reduce`);
  }
  return { shape: out, dtype: x.dtype };
}

function reduceReference(kind: Kind, x: HostTensor, a: ReduceAttrs, out: TensorType): HostTensor {
  const lay = reduceLayout(x.shape, reduceAxes(x.shape, a.axes));
  const res = hostZeros(out);
  for (let o = 0; o < res.data.length; o++) {
    const base = groupOffset(lay.kept, o);
    let acc = kind === 'max' ? -Infinity : 0;
    for (let r = 0; r < lay.count; r++) {
      const v = x.data[base + groupOffset(lay.reduced, r)];
      acc = kind === 'max' ? Math.max(acc, v) : acc + v; // Math.max returns NaN if either is NaN
    }
    res.data[o] = kind === 'mean' ? acc / lay.count : acc;
  }
  return res;
}

function reduceKernel(kind: Kind, x: TensorType, out: TensorType, a: ReduceAttrs, target: KernelTarget): Kernel {
  const lay = reduceLayout(x.shape, reduceAxes(x.shape, a.axes));
  if (lay.count === 0) {
    return new RowKernel('serial', numel(out.shape), 1, target).line(`out[row] = ${store(out, '0.0')};`).build([x], out, `reduce_${kind}.empty`);
  }
  // Rows that are contiguous get a workgroup each on GPUs; strided rows read coalesced across
  // neighbouring outputs when each invocation walks its own.
  const mode: RowMode = lay.innerReduced ? rowModeFor(target) : 'serial';
  const k = new RowKernel(mode, numel(out.shape), lay.count, target);
  k.line(`let base = ${groupOffsetWgsl(lay.kept, 'row')};`);
  const elem = load(0, x, `base + ${groupOffsetWgsl(lay.reduced, 'j')}`);
  if (kind === 'max') k.max('acc', elem);
  else k.sum('acc', elem);
  const value = kind === 'mean' ? `acc * ${f32(1 / lay.count)}` : 'acc';
  k.line(mode === 'serial' ? `out[row] = ${store(out, value)};` : `if (lid.x == 0u) { out[row] = ${store(out, value)}; }`);
  return k.build([x], out, `reduce_${kind}`);
}

/** Shape of the reduced value with the reduced axes kept as 1 (for broadcasting back). */
function keptShape(x: Ref, axes: readonly number[]): number[] {
  return reducedShape(x.type.shape, reduceAxes(x.type.shape, axes), true);
}

function withKeptDims(b: GraphBuilder, v: Ref, shape: readonly number[]): Ref {
  return v.type.shape.length === shape.length ? v : b.reshape(v, shape);
}

function defineReduce(kind: Kind, doc: string, grad: NonNullable<OpDef<ReduceAttrs>['grad']>): OpDef<ReduceAttrs> {
  return defineOp<ReduceAttrs>({
    name: `reduce_${kind}`,
    doc,
    arity: 1,
    attrs: ReduceAttrs,
    type: ([x], a) => reduceType(kind, x, a),
    reference: ([x], a, out) => reduceReference(kind, x, a, out),
    kernel: ({ inputs: [x], output, attrs, target }) => reduceKernel(kind, x, output, attrs, target),
    cost: (inputs, out) => streamingCost(inputs, out, numel(inputs[0].shape) / Math.max(1, numel(out.shape))),
    grad,
  });
}

export const reduceSum = defineReduce('sum', 'sum over `axes` (none: identity; an empty extent sums to 0)',
  (b, { inputs: [x], attrs }, dy) => [b.broadcastTo(withKeptDims(b, dy, keptShape(x, attrs.axes)), x.type.shape)]);

export const reduceMean = defineReduce('mean', 'mean over `axes` (none: identity)', (b, { inputs: [x], attrs }, dy) => {
  const count = numel(reduceAxes(x.type.shape, attrs.axes).map((k) => x.type.shape[k]));
  const g = count === 1 ? dy : b.scale(dy, 1 / count);
  return [b.broadcastTo(withKeptDims(b, g, keptShape(x, attrs.axes)), x.type.shape)];
});

// The cotangent goes to every position equal to the max, split equally among ties (as
// torch.amax). A slice holding NaN gets NaN gradients (0/0), which is as good as any answer.
export const reduceMax = defineReduce('max', 'max over `axes` (none: identity); NaN if the slice holds a NaN',
  (b, { inputs: [x], output, attrs }, dy) => {
    const shape = keptShape(x, attrs.axes);
    const hit = b.equal(x, withKeptDims(b, output, shape));
    const ties = b.sum(hit, attrs.axes, true);
    return [b.mul(hit, b.div(withKeptDims(b, dy, shape), ties))];
  });
