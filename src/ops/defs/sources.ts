// Source ops: values that come from outside (inputs, parameters) or are filled with a constant.

import * as t from 'io-ts';
import { ShapeError, numel, type TensorType } from '../../graph/index.js';
import { defineOp } from '../registry.js';
import { hostTensor } from '../host.js';
import { bytesOf } from '../shape.js';
import { bindings, entry, f32, linearGrid, store } from '../wgsl.js';

function checkDeclared(declared: TensorType): TensorType {
  if (!declared.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new ShapeError(`invalid shape [${declared.shape.join(',')}]`);
  return declared;
}

export const input = defineOp({
  name: 'input',
  doc: 'A value fed at run time (token ids, masks, labels, learning rate), by name.',
  arity: 0,
  attrs: t.type({ name: t.string }),
  type: (_in, _a, declared) => checkDeclared(declared),
  cost: () => ({ flops: 0, bytes: 0 }),
});

export const param = defineOp({
  name: 'param',
  doc: 'A parameter held by the program, by name; `trainable` marks the ones the optimizer updates.',
  arity: 0,
  attrs: t.intersection([t.type({ name: t.string, trainable: t.boolean }), t.partial({ init: t.string })]),
  type: (_in, _a, declared) => checkDeclared(declared),
  cost: (_in, out) => ({ flops: 0, bytes: bytesOf(out) }),
});

export const constant = defineOp({
  name: 'const',
  doc: 'A tensor of the declared type filled with `value`.',
  arity: 0,
  attrs: t.type({ value: t.number }),
  type: (_in, _a, declared) => checkDeclared(declared),
  reference: (_in, a, out) => hostTensor(out.shape, out.dtype, new Array<number>(numel(out.shape)).fill(a.value)),
  kernel: ({ output, attrs, target }) => {
    const grid = linearGrid(numel(output.shape), target);
    const value = output.dtype === 'i32' ? `${Math.trunc(attrs.value)}` : f32(attrs.value);
    return {
      variant: 'const.fill',
      workgroups: grid.workgroups,
      code: `${bindings([], output)}\n${entry(grid.workgroupSize)} {\n  ${grid.prologue}\n  out[i] = ${output.dtype === 'i32' ? value : store(output, value)};\n}\n`,
    };
  },
  // Lets the fusion pass inline float constants as literals.
  elementwise: (_args, a) => f32(a.value),
  cost: (_in, out) => ({ flops: 0, bytes: bytesOf(out) }),
});
