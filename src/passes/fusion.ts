// fusion: merges trees of element-wise ops into single `fused` kernels. A producer joins its
// consumer's kernel when the consumer is its only user and it is not a graph output, so no
// intermediate value is lost; float constants are inlined into every kernel that reads them.
// A group that reads a matmul it alone uses, at the group's shape, absorbs it as the epilogue
// of a `matmul_fused` node (bias, activation, residual add in the matmul's store).
// Results change only by fp32 rounding (intermediates stay in f32 registers).

import { sameShape, type Graph, type Node } from '../graph/index.js';
import { getOp } from '../ops/index.js';
import { encodeProgram, type FusedStep } from '../ops/defs/fused.js';
import type { Pass } from './pass.js';

/** Ops whose expression depends on the flat element index, so they fuse only at full shape. */
const INDEX_DEPENDENT = new Set(['dropout']);

function fusible(n: Node): boolean {
  return n.op !== 'fused' && getOp(n.op).elementwise !== undefined && n.type.dtype !== 'i32';
}

export const fusionPass: Pass = {
  name: 'fusion',
  description: 'fuse chains of element-wise ops into one kernel each',
  requires: [],
  ensures: ['fused'],
  run(graph: Graph, ctx) {
    const g = graph.clone();
    const outputs = new Set(g.outputs.values());
    const userCount = new Map<number, number>();
    for (const n of g.nodes) for (const i of new Set(n.inputs)) userCount.set(i, (userCount.get(i) ?? 0) + 1);
    const absorbed = new Set<number>();
    let groups = 0, fusedNodes = 0, matmuls = 0;
    // Consumers first, so each group's root (and so its output shape) is known when it grows.
    for (const root of [...g.nodes].reverse()) {
      if (absorbed.has(root.id) || !fusible(root) || root.op === 'const') continue;
      const members = new Set<number>([root.id]);
      // A kernel binds each external input plus its output: stay within the device's limit.
      const maxInputs = ctx.target.maxStorageBuffers - 1;
      const grow = (n: Node): void => {
        for (const i of n.inputs) {
          const p = g.node(i);
          if (members.has(p.id) || !fusible(p)) continue;
          const inline = p.op === 'const';
          const sole = userCount.get(p.id) === 1 && !outputs.has(p.id) && !absorbed.has(p.id);
          if (!inline && !sole) continue;
          if (INDEX_DEPENDENT.has(p.op) && !sameShape(p.type.shape, root.type.shape)) continue;
          members.add(p.id);
          if (externalInputs(g, members) > maxInputs) {
            members.delete(p.id);
            continue;
          }
          if (!inline) grow(p);
        }
      };
      grow(root);
      const nonConst = [...members].filter((id) => g.node(id).op !== 'const');
      const mm = epilogueMatmul(g, root, members, (p) => userCount.get(p.id) === 1 && !outputs.has(p.id) && !absorbed.has(p.id), maxInputs);
      if (nonConst.length < 2 && !mm) continue;
      replaceGroup(g, root, members, mm);
      for (const id of nonConst) absorbed.add(id);
      groups++;
      fusedNodes += nonConst.length;
      if (mm) matmuls++;
    }
    // Constants inlined everywhere they were read are now unused.
    for (const n of [...g.nodes]) if (n.op === 'const' && g.users(n.id).length === 0 && !outputs.has(n.id)) g.remove(n.id);
    if (groups) ctx.notes.push(`fusion: ${fusedNodes} element-wise nodes into ${groups} kernel(s)${matmuls ? `, ${matmuls} of them matmul epilogues` : ''}`);
    return { graph: g, changed: groups > 0 };
  },
};

function externalInputs(g: Graph, members: ReadonlySet<number>): number {
  const ext = new Set<number>();
  for (const id of members) for (const i of g.node(id).inputs) if (!members.has(i)) ext.add(i);
  return ext.size;
}

/**
 * A matmul the group may absorb: read by a member, used by nothing else, of the group's (f32)
 * shape, and binding A, B, the other external inputs and the output within the limit.
 */
function epilogueMatmul(g: Graph, root: Node, members: ReadonlySet<number>, sole: (p: Node) => boolean, maxInputs: number): Node | undefined {
  if (root.type.dtype !== 'f32') return undefined;
  const ext = new Set<number>();
  for (const id of members) for (const i of g.node(id).inputs) if (!members.has(i)) ext.add(i);
  for (const i of ext) {
    const p = g.node(i);
    if (p.op !== 'matmul' || !sole(p) || !sameShape(p.type.shape, root.type.shape)) continue;
    const extras = [...ext].filter((x) => x !== i);
    if (extras.length + 2 > maxInputs) continue;
    return p;
  }
  return undefined;
}

/**
 * Replaces `root` by a `fused` node computing every member, reading the group's external inputs;
 * with `mm`, by a `matmul_fused` node whose program reads the matmul's value as external 0.
 */
function replaceGroup(g: Graph, root: Node, members: ReadonlySet<number>, mm?: Node): void {
  const order = g.nodes.filter((n) => members.has(n.id));
  const external: number[] = mm ? [mm.id] : [];
  const stepOf = new Map<number, number>();
  const steps: FusedStep[] = [];
  for (const n of order) {
    const args = n.inputs.map((i) => {
      if (stepOf.has(i)) return -stepOf.get(i)! - 1;
      let k = external.indexOf(i);
      if (k < 0) k = external.push(i) - 1;
      return k;
    });
    stepOf.set(n.id, steps.length);
    steps.push({ op: n.op, args, attrs: n.attrs, type: n.type });
  }
  const program = encodeProgram(steps);
  const fused = mm
    ? g.add({ op: 'matmul_fused', inputs: [...mm.inputs, ...external.slice(1)], attrs: { ...mm.attrs, program }, type: root.type, scope: root.scope }, { before: root.id })
    : g.add({ op: 'fused', inputs: external, attrs: { program }, type: root.type, scope: root.scope }, { before: root.id });
  g.replaceAllUses(root.id, fused.id);
  // Members other than shared constants were used only inside the group: drop them, consumers first.
  for (const n of [...order].reverse()) if (n.op !== 'const') g.remove(n.id);
  if (mm) g.remove(mm.id);
}
