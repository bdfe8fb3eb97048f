// Cross-entropy of logits against integer labels, averaged over the labels that count, and its
// backward ops. Labels equal to ignoreIndex do not count; if none counts the loss is 0 (not the
// 0/0 = NaN PyTorch gives), so a batch of pure padding trains nothing instead of poisoning
// the weights. A label outside [0, C) that is not ignoreIndex is a data bug: the CPU reference
// throws naming it, while kernels (which cannot report) treat it as ignored.

import * as t from 'io-ts';
import { formatShape, isFloat, numel, sameShape, ShapeError, type TensorType } from '../../graph/index.js';
import { defineOp, type Kernel, type KernelTarget } from '../registry.js';
import { hostScalar, hostZeros, type HostTensor } from '../host.js';
import { bytesOf, streamingCost } from '../shape.js';
import { bindings, entry, load, store } from '../wgsl.js';
import { nextPow2, ROW_PRELUDE, RowKernel, rowModeFor, treeReduce, treeWidth } from './reduce.js';

const CrossEntropyAttrs = t.type({ ignoreIndex: t.Int });
type CrossEntropyAttrs = t.TypeOf<typeof CrossEntropyAttrs>;

/** Whether label `l` of row `r` counts; throws for one out of range that is not ignoreIndex. */
function counts(l: number, r: number, classes: number, ignoreIndex: number): boolean {
  if (l === ignoreIndex) return false;
  if (l < 0 || l >= classes) throw new RangeError(`label ${l} at position ${r} is outside [0, ${classes}) and is not ignoreIndex (${ignoreIndex})`);
  return true;
}

/** WGSL bool: label `lab` (i32) counts. Out-of-range labels are treated as ignored. */
const validWgsl = (lab: string, classes: number, ignoreIndex: number): string =>
  `(${lab} != ${ignoreIndex}i && ${lab} >= 0i && ${lab} < ${classes}i)`;

function checkLogitsLabels(op: string, logits: TensorType, labels: TensorType): { rows: number; classes: number } {
  if (!isFloat(logits.dtype) || logits.shape.length === 0) throw new ShapeError(`${op} logits must be a float tensor [..., C], got ${logits.dtype}${formatShape(logits.shape)}`);
  const classes = logits.shape[logits.shape.length - 1];
  if (classes === 0) throw new ShapeError(`${op} logits ${formatShape(logits.shape)} have no classes`);
  const want = logits.shape.slice(0, -1);
  if (labels.dtype !== 'i32' || !sameShape(labels.shape, want)) {
    throw new ShapeError(`${op} labels are ${labels.dtype}${formatShape(labels.shape)}, but logits ${formatShape(logits.shape)} need i32${formatShape(want)} (one per row)`);
  }
  return { rows: numel(want), classes };
}

/** log(sum(exp(row))) in float64, max-subtracted. */
function logSumExp(x: HostTensor, base: number, classes: number): number {
  let m = -Infinity;
  for (let j = 0; j < classes; j++) m = Math.max(m, x.data[base + j]);
  let s = 0;
  for (let j = 0; j < classes; j++) s += Math.exp(x.data[base + j] - m);
  return m + Math.log(s);
}

// ---- cross_entropy ----------------------------------------------------------------------------

/**
 * The loss is one scalar, and kernels have no scratch buffer, so a single workgroup does it
 * all: T invocations per row ('cpu': T = 1, a serial loop per row, no barriers until the final
 * sum; 'gpu': T grows with C so long rows are shared), rows dealt out in rounds, then a tree
 * sums (loss, count) pairs.
 */
function crossEntropyKernel(logits: TensorType, labels: TensorType, output: TensorType, a: CrossEntropyAttrs, target: KernelTarget): Kernel {
  const { rows, classes: C } = checkLogitsLabels('cross_entropy', logits, labels);
  const cap = treeWidth(target);
  const W = target.kind === 'cpu' ? Math.min(64, cap) : cap;
  const T = target.kind === 'cpu' ? 1 : Math.min(W, nextPow2(Math.ceil(C / 4)));
  const G = W / T;
  const xj = load(0, logits, 'base + j');
  // Reduces a per-invocation partial over the T invocations of a row (a no-op when T = 1).
  const across = (name: string, partial: string, combine: (a: string, b: string) => string): string => (T === 1
    ? `let ${name} = ${partial};`
    : `pg_row[lid.x] = ${partial};\n    workgroupBarrier();\n    ${treeReduce('pg_row', T, combine, 't')}\n    let ${name} = pg_row[grp * ${T}u];\n    workgroupBarrier();`);
  const body = rows === 0 ? 'if (lid.x == 0u) { out[0] = 0.0; }' : `let t = lid.x % ${T}u;
  let grp = lid.x / ${T}u;
  var acc = vec2<f32>();
  for (var r0 = 0u; r0 < ${rows}u; r0 += ${G}u) {
    let row = r0 + grp;
    let rr = min(row, ${rows - 1}u);
    let lab = in1[rr];
    let base = rr * ${C}u;
    var pm = ${load(0, logits, 'base')};
    for (var j = t; j < ${C}u; j += ${T}u) { pm = pg_max(pm, ${xj}); }
    ${across('m', 'pm', (x, y) => `pg_max(${x}, ${y})`)}
    var ps = 0.0;
    for (var j = t; j < ${C}u; j += ${T}u) { ps += exp(${xj} - m); }
    ${across('s', 'ps', (x, y) => `${x} + ${y}`)}
    if (t == 0u && row < ${rows}u && ${validWgsl('lab', C, a.ignoreIndex)}) {
      acc += vec2<f32>(log(s) + m - ${load(0, logits, 'base + u32(lab)')}, 1.0);
    }
  }
  pg_tot[lid.x] = acc;
  workgroupBarrier();
  ${treeReduce('pg_tot', W, (x, y) => `${x} + ${y}`)}
  if (lid.x == 0u) { let v = pg_tot[0]; out[0] = select(0.0, v.x / v.y, v.y > 0.0); }`;
  const decls = `var<workgroup> pg_tot: array<vec2<f32>, ${W}>;\n${T > 1 ? `var<workgroup> pg_row: array<f32, ${W}>;` : ''}`;
  return {
    code: `${bindings([logits, labels], output)}\n${ROW_PRELUDE}\n${decls}\n${entry(W)} {\n  ${body}\n}\n`,
    workgroups: [1, 1, 1],
    variant: `cross_entropy.${T === 1 ? 'serial' : `shared${T}`}`,
  };
}

export const crossEntropy = defineOp<CrossEntropyAttrs>({
  name: 'cross_entropy',
  doc: 'mean over counted labels of logsumexp(logits) - logits[label]; 0 if no label counts',
  arity: 2,
  attrs: CrossEntropyAttrs,
  type([logits, labels]) {
    checkLogitsLabels('cross_entropy', logits, labels);
    return { shape: [], dtype: 'f32' };
  },
  reference([logits, labels], a) {
    const { rows, classes } = checkLogitsLabels('cross_entropy', logits, labels);
    let total = 0, n = 0;
    for (let r = 0; r < rows; r++) {
      const l = labels.data[r];
      if (!counts(l, r, classes, a.ignoreIndex)) continue;
      total += logSumExp(logits, r * classes, classes) - logits.data[r * classes + l];
      n++;
    }
    return hostScalar(n === 0 ? 0 : total / n);
  },
  kernel: ({ inputs: [logits, labels], output, attrs, target }) => crossEntropyKernel(logits, labels, output, attrs, target),
  cost: (inputs, out) => streamingCost(inputs, out, 4 * numel(inputs[0].shape) / Math.max(1, numel(inputs[1].shape))),
  grad(b, { inputs: [logits, labels], attrs }, dy) {
    const classes = logits.type.shape[logits.type.shape.length - 1];
    const count = b.op('label_count', [labels], { ignoreIndex: attrs.ignoreIndex, classes });
    // dy / count is inf when nothing counts; cross_entropy_grad then selects 0 for every row.
    const scale = b.div(dy, count);
    return [b.op('cross_entropy_grad', [logits, labels, scale], { ignoreIndex: attrs.ignoreIndex }), null];
  },
});

// ---- backward ops -----------------------------------------------------------------------------

const LabelCountAttrs = t.type({ ignoreIndex: t.Int, classes: t.Int });

export const labelCount = defineOp({
  name: 'label_count',
  doc: 'number (f32) of labels in [0, classes) that are not ignoreIndex (backward of cross_entropy)',
  arity: 1,
  attrs: LabelCountAttrs,
  type([labels]) {
    if (labels.dtype !== 'i32') throw new ShapeError(`label_count takes i32 labels, got ${labels.dtype}${formatShape(labels.shape)}`);
    return { shape: [], dtype: 'f32' };
  },
  reference([labels], a) {
    let n = 0;
    labels.data.forEach((l, r) => { if (counts(l, r, a.classes, a.ignoreIndex)) n++; });
    return hostScalar(n);
  },
  kernel({ inputs: [labels], output, attrs, target }): Kernel {
    const n = numel(labels.shape);
    // Counts are exact in f32 up to 2^24 labels.
    if (n === 0) return new RowKernel('serial', 1, 1, target).line('out[0] = 0.0;').build([labels], output, 'label_count.empty');
    const k = new RowKernel(rowModeFor(target), 1, n, target);
    k.sum('c', `select(0.0, 1.0, ${validWgsl('in0[j]', attrs.classes, attrs.ignoreIndex)})`);
    k.line(k.mode === 'serial' ? 'out[0] = c;' : 'if (lid.x == 0u) { out[0] = c; }');
    return k.build([labels], output, 'label_count');
  },
  cost: (inputs, out) => ({ flops: numel(inputs[0].shape), bytes: bytesOf(inputs[0]) + bytesOf(out) }),
});

/** (softmax(logits) - onehot(label)) * g on counted rows, 0 on the others; g is a scalar (dy / count). */
export const crossEntropyGrad = defineOp<CrossEntropyAttrs>({
  name: 'cross_entropy_grad',
  doc: '(softmax(logits) - onehot(labels)) * g per counted row, 0 elsewhere (backward of cross_entropy)',
  arity: 3,
  attrs: CrossEntropyAttrs,
  type([logits, labels, g]) {
    checkLogitsLabels('cross_entropy_grad', logits, labels);
    if (g.dtype !== 'f32' || g.shape.length !== 0) throw new ShapeError(`cross_entropy_grad scale must be f32[], got ${g.dtype}${formatShape(g.shape)}`);
    return logits;
  },
  reference([logits, labels, g], a, out) {
    const { rows, classes } = checkLogitsLabels('cross_entropy_grad', logits, labels);
    const res = hostZeros(out);
    for (let r = 0; r < rows; r++) {
      const l = labels.data[r];
      if (!counts(l, r, classes, a.ignoreIndex)) continue;
      const lse = logSumExp(logits, r * classes, classes);
      for (let j = 0; j < classes; j++) res.data[r * classes + j] = (Math.exp(logits.data[r * classes + j] - lse) - (j === l ? 1 : 0)) * g.data[0];
    }
    return res;
  },
  kernel({ inputs: [logits, labels, g], output, attrs, target }): Kernel {
    const { rows, classes: C } = checkLogitsLabels('cross_entropy_grad', logits, labels);
    const xj = load(0, logits, 'base + j');
    const k = new RowKernel(rowModeFor(target), rows, C, target);
    k.line(`let base = row * ${C}u;\n  let lab = in1[row];\n  let valid = ${validWgsl('lab', C, attrs.ignoreIndex)};`);
    k.max('m', xj).sum('s', `exp(${xj} - m)`).line('let inv = 1.0 / s;\n  let g = in2[0];');
    // select, not a multiply, zeroes the other rows: g may be inf when no label counts.
    k.each(`out[base + j] = ${store(output, `select(0.0, (exp(${xj} - m) * inv - select(0.0, 1.0, i32(j) == lab)) * g, valid)`)};`);
    return k.build([logits, labels, g], output, 'cross_entropy_grad');
  },
  cost: (inputs, out) => streamingCost(inputs, out, 6),
});
