// `mark`: an identity that names an insertion point (input embeddings, a layer's keys, the
// attention mask...) so prompt methods can find it in any backbone graph by name. The compiler
// removes marks before generating kernels (pass `unmark`).

import * as t from 'io-ts';
import { defineOp } from '../registry.js';
import { streamingCost } from '../shape.js';
import { bindings, entry, linearGrid } from '../wgsl.js';
import { numel } from '../../graph/index.js';

export const mark = defineOp({
  name: 'mark',
  doc: 'identity naming an insertion point for graph transforms',
  arity: 1,
  attrs: t.type({ point: t.string }),
  type: ([x]) => x,
  reference: ([x]) => x,
  kernel: ({ inputs: [x], output, target }) => {
    const grid = linearGrid(numel(output.shape), target);
    return { variant: 'mark.copy', workgroups: grid.workgroups, code: `${bindings([x], output)}\n${entry(grid.workgroupSize)} {\n  ${grid.prologue}\n  out[i] = in0[i];\n}\n` };
  },
  cost: (inputs, out) => streamingCost(inputs, out, 0),
  grad: (_b, _x, dy) => [dy],
});
