// shard: splits every parameter larger than the device's storage binding limit
// (target.maxStorageBufferBindingSize, 128 MiB on lavapipe) into row chunks `<name>#0`, `<name>#1`,
// ... along axis 0, each within the limit, and rewrites its readers to work chunk by chunk:
//   gather(T, ids)            → Σ_k gather(T#k, ids - start_k)  (out of range gives 0, so one chunk hits)
//   matmul(x, T, transB)      → concat_k matmul(x, T#k, transB) along the last axis
//   matmul(x, T)              → Σ_k matmul(x[.., K-range k], T#k)
//   matmul(T, y)              → concat_k matmul(T#k, y) along the row axis
//   slice(T, axis 0)          → the overlapping chunk slices, concatenated
// Any other reader would need concat(chunks, 0), i.e. the whole tensor, which by definition does
// not fit a binding: that is an error naming the op and scope. `ids - start_k` is an i32 `sub`,
// which computes in f32 on the device: exact for |ids| < 2^24 (every vocabulary in practice).
// Runs after freeze and before autodiff, so trainable chunks get their own gradients and
// optimizer state. Chunk values are split from ctx.params; `unshardParams` reassembles them.

import type { Graph, Node, TensorType } from '../graph/index.js';
import { GraphBuilder, normalizeAxis, sliceRange, wgsl, type HostTensor, type ParamStore, type Ref } from '../ops/index.js';
import { CompileError, type Pass } from './pass.js';

const CHUNK = /^(.+)#(\d+)$/;

interface Chunk {
  readonly ref: Ref;
  readonly start: number;
  readonly rows: number;
}

/** Row counts of balanced chunks of `type` along axis 0, each at most `limit` bytes on the device. */
export function chunkRows(type: TensorType, limit: number, name: string): number[] {
  const [rows, ...rest] = type.shape;
  const rowBytes = wgsl.deviceByteSize({ shape: [1, ...rest], dtype: type.dtype });
  if (rows === undefined || rowBytes > limit) {
    throw new CompileError(`cannot shard parameter '${name}' [${type.shape.join(',')}]: one row along axis 0 is over the ${limit}-byte storage binding limit`);
  }
  const count = Math.ceil(rows / Math.floor(limit / rowBytes));
  const per = Math.ceil(rows / count);
  return Array.from({ length: count }, (_, k) => Math.min(per, rows - k * per));
}

export const shardPass: Pass = {
  name: 'shard',
  description: 'split parameters over the storage binding limit into row chunks',
  requires: [],
  ensures: [],
  run(graph: Graph, ctx) {
    const limit = ctx.target.maxStorageBufferBindingSize;
    const big = graph.params().filter((p) => wgsl.deviceByteSize(p.type) > limit);
    if (big.length === 0) return { graph, changed: false };
    const g = graph.clone();
    const b = new GraphBuilder(g);
    for (const p0 of big) shardOne(g, b, g.node(p0.id), limit);
    shardParams(g, ctx.params);
    ctx.notes.push(`shard: ${big.map((p) => `'${String(p.attrs.name)}'`).join(', ')} split into row chunks of at most ${limit} bytes`);
    return { graph: g, changed: true };
  },
};

function shardOne(g: Graph, b: GraphBuilder, p: Node, limit: number): void {
  const name = String(p.attrs.name);
  for (const [out, id] of g.outputs) if (id === p.id) throw new CompileError(`cannot shard use of ${name} by output '${out}': it is over the ${limit}-byte storage binding limit`);
  let start = 0;
  const chunks: Chunk[] = b.at({ after: p.id }, () => b.inScope(p.scope, () => chunkRows(p.type, limit, name).map((rows, k) => {
    const type = { shape: [rows, ...p.type.shape.slice(1)], dtype: p.type.dtype };
    const c = { ref: b.op('param', [], { ...p.attrs, name: `${name}#${k}` }, type), start, rows };
    start += rows;
    return c;
  })));
  for (const u of g.users(p.id)) {
    const r = b.at({ before: u.id }, () => b.inScope(u.scope, () => rewrite(b, u, p, chunks, limit)));
    g.replaceAllUses(u.id, r.id);
    g.remove(u.id);
  }
  g.remove(p.id);
}

/** The chunked equivalent of `u`, one of p's readers. */
function rewrite(b: GraphBuilder, u: Node, p: Node, chunks: readonly Chunk[], limit: number): Ref {
  const [i0, i1] = u.inputs;
  const other = (id: number | undefined): Ref => b.ref(id!);
  const sum = (xs: Ref[]): Ref => xs.reduce((acc, x) => b.add(acc, x));
  if (u.op === 'gather' && i0 === p.id && i1 !== p.id && normalizeAxis(Number(u.attrs.axis), p.type.shape.length) === 0) {
    const ids = other(i1);
    return sum(chunks.map((c) => b.gather(c.ref, c.start ? b.sub(ids, b.constant(c.start, [], 'i32')) : ids, 0)));
  }
  if (u.op === 'matmul' && p.type.shape.length === 2 && i0 !== i1) {
    const transA = u.attrs.transA === true, transB = u.attrs.transB === true;
    const rank = u.type.shape.length;
    if (i1 === p.id && transB) return b.concat(chunks.map((c) => b.matmul(other(i0), c.ref, { transA, transB })), rank - 1);
    if (i1 === p.id) {
      const x = other(i0), axis = x.type.shape.length - (transA ? 2 : 1);
      return sum(chunks.map((c) => b.matmul(b.slice(x, axis, c.start, c.start + c.rows), c.ref, { transA, transB })));
    }
    if (!transA) return b.concat(chunks.map((c) => b.matmul(c.ref, other(i1), { transA, transB })), rank - 2);
  }
  if (u.op === 'slice' && normalizeAxis(Number(u.attrs.axis), p.type.shape.length) === 0 && wgsl.deviceByteSize(u.type) <= limit) {
    const [s, e] = sliceRange({ start: Number(u.attrs.start), end: Number(u.attrs.end) }, p.type.shape[0]);
    const parts = chunks.filter((c) => c.start < e && c.start + c.rows > s).map((c) => {
      const lo = Math.max(s, c.start) - c.start, hi = Math.min(e, c.start + c.rows) - c.start;
      return lo === 0 && hi === c.rows ? c.ref : b.slice(c.ref, 0, lo, hi);
    });
    if (parts.length === 1) return parts[0];
    if (parts.length > 1) return b.concat(parts, 0);
  }
  throw new CompileError(`cannot shard use of ${String(p.attrs.name)} by ${u.op} (%${u.id} @${u.scope || '<root>'}): the parameter is ` +
    `${wgsl.deviceByteSize(p.type)} bytes, over the ${limit}-byte storage binding limit, and only gather (axis 0), matmul ` +
    `of a 2-D parameter and a small slice along axis 0 can read it in row chunks`);
}

/**
 * Fills in the values of the chunk parameters of `graph` (`<name>#k`) that `store` lacks, by
 * splitting `<name>`, and drops `<name>` from `store` when the graph no longer reads it.
 */
export function shardParams(graph: Graph, store: ParamStore): void {
  const names = new Set(graph.params().map((p) => String(p.attrs.name)));
  const bases = new Map<string, Node[]>();
  for (const p of graph.params()) {
    const m = CHUNK.exec(String(p.attrs.name));
    if (m) bases.set(m[1], [...(bases.get(m[1]) ?? []), p]);
  }
  for (const [base, parts] of bases) {
    const whole = store.get(base);
    if (!whole) continue; // already split (or given later): the runtime reports missing values
    parts.sort((a, c) => chunkIndex(a) - chunkIndex(c));
    const rowElems = whole.data.length / (whole.shape[0] || 1);
    let start = 0;
    for (const p of parts) {
      const rows = p.type.shape[0];
      if (!store.has(String(p.attrs.name))) {
        const data = whole.data.slice(start * rowElems, (start + rows) * rowElems);
        store.set(String(p.attrs.name), { shape: [...p.type.shape], dtype: whole.dtype, data });
      }
      start += rows;
    }
    if (!names.has(base)) store.delete(base);
  }
}

function chunkIndex(p: Node): number {
  return Number(CHUNK.exec(String(p.attrs.name))![2]);
}

/** `store` with every run of chunks `<name>#0..#n-1` concatenated back into `<name>` (for saving). */
export function unshardParams(store: ParamStore): ParamStore {
  const out: ParamStore = new Map();
  const groups = new Map<string, [number, HostTensor][]>();
  for (const [name, value] of store) {
    const m = CHUNK.exec(name);
    if (m) groups.set(m[1], [...(groups.get(m[1]) ?? []), [Number(m[2]), value]]);
    else out.set(name, value);
  }
  for (const [base, parts] of groups) {
    parts.sort((a, c) => a[0] - c[0]);
    const vals = parts.map(([, v]) => v);
    const rows = vals.reduce((n, v) => n + v.shape[0], 0);
    const data = vals[0].dtype === 'i32' ? new Int32Array(vals.reduce((n, v) => n + v.data.length, 0)) : new Float64Array(vals.reduce((n, v) => n + v.data.length, 0));
    let off = 0;
    for (const v of vals) {
      data.set(v.data, off);
      off += v.data.length;
    }
    out.set(base, { shape: [rows, ...vals[0].shape.slice(1)], dtype: vals[0].dtype, data });
  }
  return out;
}
