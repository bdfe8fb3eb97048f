// half-storage: stores frozen float parameters (a backbone's weights, embeddings, layernorm
// gamma/beta, biases) as f16 on the device, halving their memory, while all arithmetic stays
// f32. Only storage changes: each parameter node is retyped f32 -> f16 and the kernels that
// read it convert every element to f32 as they load it (`load` / `f32(x)` in WGSL), so no f32
// copy of a weight is ever made. Trainable parameters, optimizer state, activations and
// gradients stay f32.
//
// How each reader of an f16 value is handled (graph order, so readers of readers follow):
//  - it converts on load (matmul: A or B, matmul_fused, element-wise ops, fused, layernorm and
//    layernorm_grad gamma/beta) and its type rule gives the same type as before: kept as is;
//  - it only moves data (gather, slice, reshape, permute, ...) and gives the same shape in f16:
//    retyped to f16, its own readers then handled the same way (an embedding lookup yields
//    f16 rows, which the add of token and position embeddings reads in f32);
//  - anything else reads an f32 copy: a `cast` to f32 is inserted once per value (the fusion
//    pass, which runs after, folds such casts into the element-wise kernel that reads them).
// A graph output that would turn f16 gets a cast too, so outputs keep their types.
//
// Runs after autodiff, the optimizer and folding (so backward and folded constants are in place
// and see f32 weights) and before fusion. A parameter whose known value has a finite element
// beyond the f16 range stays f32. Host values stay f32: the runtime rounds them to f16 when it
// binds them (`storedParam`), once per tensor.

import { formatType, sameShape, sameType, type Graph, type TensorType } from '../graph/index.js';
import { decodeAttrs, F16_MAX, getOp, GraphBuilder, wgsl, type HostTensor, type KernelTarget } from '../ops/index.js';
import { CompileError, type Pass } from './pass.js';

/** How frozen parameters are stored on the device (`CompileOptions.frozenStorage`). */
export type FrozenStorage = 'f32' | 'f16';

/** Ops whose kernels read every float input through a converting load and compute in f32. */
const CONVERTS = new Set(['matmul', 'matmul_fused', 'fused', 'layernorm', 'layernorm_grad']);
/** Ops that only move data: an f16 input gives the same values as f16. */
const MOVES = new Set(['gather', 'slice', 'reshape', 'permute', 'broadcast_to', 'concat', 'pad']);

/** Checks the option; f16 storage needs the device's shader-f16. */
export function checkFrozenStorage(value: unknown, target: KernelTarget): FrozenStorage {
  if (value === undefined) return 'f32';
  if (value !== 'f32' && value !== 'f16') throw new CompileError(`frozenStorage must be 'f32' or 'f16', got ${JSON.stringify(value)}`);
  if (value === 'f16' && !target.f16) {
    throw new CompileError("frozenStorage 'f16' needs a target with f16 (the device's shader-f16 feature); this target has none: use frozenStorage 'f32'");
  }
  return value;
}

/** Whether a parameter's known value (if any) fits f16 without becoming infinite. */
function fitsF16(v: HostTensor | undefined): boolean {
  if (!v) return true;
  for (const x of v.data) if (Number.isFinite(x) && Math.abs(x) > F16_MAX) return false;
  return true;
}

export const halfStoragePass: Pass = {
  name: 'half-storage',
  description: 'store frozen float parameters as f16 on the device (read in f32)',
  requires: ['frozen'],
  ensures: [],
  run(graph: Graph, ctx) {
    checkFrozenStorage('f16', ctx.target);
    // A frozen parameter that the step updates (optimizer state, `next:<name>`) is not read-only.
    const updated = new Set([...graph.outputs.keys()].filter((k) => k.startsWith('next:')).map((k) => k.slice(5)));
    const kept: string[] = [];
    const picked = graph.params().filter((p) => {
      const name = String(p.attrs.name);
      if (p.attrs.trainable === true || updated.has(name) || p.type.dtype !== 'f32') return false;
      if (fitsF16(ctx.params.get(name))) return true;
      kept.push(name);
      return false;
    });
    if (kept.length) ctx.notes.push(`half-storage: kept f32 (values beyond the f16 range): ${kept.join(', ')}`);
    if (picked.length === 0) return { graph, changed: false };

    const g = graph.clone();
    const b = new GraphBuilder(g);
    const half = new Set<number>();
    let before = 0, after = 0;
    for (const p of picked) {
      const n = g.node(p.id);
      before += wgsl.deviceByteSize(n.type);
      n.type = { shape: n.type.shape, dtype: 'f16' };
      after += wgsl.deviceByteSize(n.type);
      half.add(n.id);
    }
    const copies = new Map<number, number>(); // f16 value -> its f32 cast
    const f32Copy = (id: number): number => {
      let c = copies.get(id);
      if (c === undefined) {
        const v = g.node(id);
        c = b.at({ after: id }, () => b.inScope(v.scope, () => b.cast(b.ref(id), 'f32'))).id;
        copies.set(id, c);
      }
      return c;
    };
    // A snapshot: the casts added on the way are not visited (they read f16 and give f32).
    for (const n of [...g.nodes]) {
      if (n.op === 'input' || n.op === 'param' || !n.inputs.some((i) => half.has(i))) continue;
      const t = typeWith(g, n.id);
      if (t && sameType(t, n.type) && (CONVERTS.has(n.op) || getOp(n.op).elementwise !== undefined)) continue;
      if (t && MOVES.has(n.op) && t.dtype === 'f16' && sameShape(t.shape, n.type.shape)) {
        n.type = t;
        half.add(n.id);
        continue;
      }
      n.inputs = n.inputs.map((i) => (half.has(i) ? f32Copy(i) : i));
      const again = typeWith(g, n.id);
      if (!again || !sameType(again, n.type)) throw new CompileError(`half-storage: %${n.id} (${n.op} @${n.scope}) does not take its f32 inputs back: ${again ? formatType(again) : 'type error'} vs ${formatType(n.type)}`);
    }
    for (const [name, id] of g.outputs) if (half.has(id)) g.outputs.set(name, f32Copy(id));
    const mib = (x: number): string => (x / 2 ** 20).toFixed(2);
    ctx.notes.push(`half-storage: ${picked.length} frozen parameter(s) stored as f16 (${mib(before)} -> ${mib(after)} MiB)` +
      (copies.size ? `; ${copies.size} value(s) read through an f32 cast` : ''));
    return { graph: g, changed: true };
  },
};

/** Node `id`'s type by its op's rule from its current inputs, or undefined where the rule refuses. */
function typeWith(g: Graph, id: number): TensorType | undefined {
  const n = g.node(id);
  const def = getOp(n.op);
  try {
    return def.type(n.inputs.map((i) => g.node(i).type), decodeAttrs(def, n.attrs, `%${n.id}`), n.type);
  } catch {
    return undefined;
  }
}
