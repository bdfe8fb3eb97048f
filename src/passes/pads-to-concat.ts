// pads-to-concat: the gradient of `slice` is `pad`, so where a forward tensor is sliced into
// disjoint parts (a prefix split into per-layer key/value blocks, a fused QKV projection split
// into q, k, v) autodiff sums one zero-padded copy per part: n pad kernels and n-1 adds, each
// streaming the whole tensor. Pads along one axis whose ranges do not overlap sum to the
// concatenation of their inputs (zeros in the gaps), so this pass replaces such an add tree by
// one `concat` (nested where the parts exceed the storage binding limit). Every element of the
// concat is one pad's value, so the result is exact; leaves left out (overlapping ranges,
// another axis, other values) are added to the concat as before.

import { sameType, type Graph, type Node } from '../graph/index.js';
import { GraphBuilder, normalizeAxis, type Ref } from '../ops/index.js';
import type { Pass } from './pass.js';

/** A pad leaf of an add tree: the part of the axis it holds, [start, end). */
interface Part {
  readonly pad: Node;
  readonly axis: number;
  readonly start: number;
  readonly end: number;
}

/** What the tree under `root` is made of: its add nodes and its leaves, in tree order. */
interface AddTree {
  readonly adds: Node[];
  readonly leaves: Node[];
}

/**
 * The add tree under `root`: an inner add joins it when it has the root's type (no broadcast
 * inside), is read only once, by the tree, and is not a graph output, so its value is needed
 * nowhere else.
 */
function addTree(g: Graph, root: Node, uses: ReadonlyMap<number, number>, outputs: ReadonlySet<number>): AddTree {
  const adds: Node[] = [], leaves: Node[] = [];
  const visit = (n: Node): void => {
    adds.push(n);
    for (const i of n.inputs) {
      const x = g.node(i);
      const inner = x.op === 'add' && uses.get(x.id) === 1 && !outputs.has(x.id) && sameType(x.type, root.type);
      if (inner) visit(x);
      else leaves.push(x);
    }
  };
  visit(root);
  return { adds, leaves };
}

/** A leaf that may become a concat part: a pad of the root's type that nothing else reads. */
function asPart(leaf: Node, root: Node, uses: ReadonlyMap<number, number>, outputs: ReadonlySet<number>): Part | null {
  if (leaf.op !== 'pad' || uses.get(leaf.id) !== 1 || outputs.has(leaf.id) || !sameType(leaf.type, root.type)) return null;
  const axis = normalizeAxis(Number(leaf.attrs.axis), leaf.type.shape.length);
  const start = Number(leaf.attrs.before), end = leaf.type.shape[axis] - Number(leaf.attrs.after);
  // An empty part adds zeros: concatenating a zero-size buffer gains nothing, so it stays a leaf.
  return end > start ? { pad: leaf, axis, start, end } : null;
}

/** The most parts along one axis with pairwise disjoint ranges (greedy by end: the maximum). */
function disjoint(parts: readonly Part[]): Part[] {
  const chosen: Part[] = [];
  let reached = 0;
  for (const p of [...parts].sort((a, b) => a.end - b.end || a.start - b.start)) {
    if (p.start < reached) continue;
    chosen.push(p);
    reached = p.end;
  }
  return chosen.sort((a, b) => a.start - b.start);
}

/**
 * Joins `items` in order with `join`, no call taking more than `maxInputs`: the first runs are
 * joined into groups just until the rest fits one call, so each inner join removes up to
 * maxInputs - 1 items and the count stays at its least, ceil((n - 1) / (maxInputs - 1)).
 */
export function nest<T>(items: readonly T[], maxInputs: number, join: (xs: readonly T[]) => T): T {
  if (items.length <= maxInputs) return join(items);
  const out: T[] = [];
  let excess = items.length - maxInputs, i = 0;
  while (excess > 0 && i < items.length) {
    const size = Math.min(maxInputs, excess + 1, items.length - i);
    out.push(size === 1 ? items[i] : join(items.slice(i, i + size)));
    i += size;
    excess -= size - 1;
  }
  return nest([...out, ...items.slice(i)], maxInputs, join);
}

/** How many concat nodes joining `n` parts takes when each binds at most `maxInputs` inputs. */
function concatCount(n: number, maxInputs: number): number {
  let count = 0;
  nest(new Array<number>(n).fill(0), maxInputs, () => count++);
  return count;
}

/** The parts with the zero gaps between them: how many gaps there are. */
function gapCount(parts: readonly Part[], dim: number): number {
  let at = 0, gaps = 0;
  for (const p of parts) {
    if (p.start > at) gaps++;
    at = p.end;
  }
  return gaps + (at < dim ? 1 : 0);
}

/**
 * The parts to concatenate and the kernels that saves, or null when it saves none. Before: the
 * chosen pads and the adds, which fusion later joins into one kernel per maxInputs - 1 of them
 * (counting them so never overstates what the rewrite saves). After: the concats, one zero
 * constant per gap, and the adds of the leaves left over to the concat.
 */
function plan(tree: AddTree, candidates: readonly Part[], root: Node, maxInputs: number): { parts: Part[]; saved: number } | null {
  const sumKernels = (terms: number): number => (terms < 2 ? 0 : concatCount(terms, maxInputs));
  let best: { parts: Part[]; saved: number } | null = null;
  for (const axis of new Set(candidates.map((p) => p.axis))) {
    const parts = disjoint(candidates.filter((p) => p.axis === axis));
    const gaps = gapCount(parts, root.type.shape[axis]);
    const before = parts.length + sumKernels(tree.leaves.length);
    const after = concatCount(parts.length + gaps, maxInputs) + gaps + sumKernels(tree.leaves.length - parts.length + 1);
    const saved = before - after;
    if (saved > 0 && (!best || saved > best.saved)) best = { parts, saved };
  }
  return best;
}

function useCounts(g: Graph): Map<number, number> {
  const uses = new Map<number, number>();
  for (const n of g.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  return uses;
}

/** Replaces the add tree under `root` by the concat of `parts` plus the leaves left over. */
function rewrite(g: Graph, root: Node, tree: AddTree, parts: readonly Part[], maxInputs: number): void {
  const b = new GraphBuilder(g);
  const axis = parts[0].axis, dim = root.type.shape[axis];
  const result = b.inScope(root.scope, () => b.at({ before: root.id }, () => {
    const refs: Ref[] = [];
    const zeros = (size: number): Ref => b.constant(0, root.type.shape.map((d, k) => (k === axis ? size : d)), root.type.dtype);
    let at = 0;
    for (const p of parts) {
      if (p.start > at) refs.push(zeros(p.start - at));
      refs.push(b.ref(p.pad.inputs[0]));
      at = p.end;
    }
    if (at < dim) refs.push(zeros(dim - at));
    let sum = nest(refs, maxInputs, (xs) => b.concat(xs, axis));
    const taken = new Set(parts.map((p) => p.pad.id));
    for (const leaf of tree.leaves) if (!taken.has(leaf.id)) sum = b.add(sum, b.ref(leaf.id));
    return sum;
  }));
  g.replaceAllUses(root.id, result.id);
  // Outermost first: each add's users are gone before it is removed, then the pads.
  for (const n of tree.adds) g.remove(n.id);
  for (const p of parts) g.remove(p.pad.id);
}

export const padsToConcatPass: Pass = {
  name: 'pads-to-concat',
  description: 'replace sums of zero pads with disjoint ranges along one axis (slice gradients) by one concat',
  requires: [],
  ensures: [],
  run(graph: Graph, ctx) {
    const g = graph.clone();
    const outputs = new Set(g.outputs.values());
    // A concat binds each input plus its output.
    const maxInputs = ctx.target.maxStorageBuffers - 1;
    if (maxInputs < 2) return { graph, changed: false };
    const seen = new Set<number>();
    let trees = 0, pads = 0, saved = 0;
    let uses = useCounts(g);
    // Consumers first, so each tree is met at its outermost add.
    for (const id of [...g.nodes].reverse().map((n) => n.id)) {
      if (seen.has(id) || !g.has(id)) continue;
      const root = g.node(id);
      if (root.op !== 'add') continue;
      const tree = addTree(g, root, uses, outputs);
      for (const n of tree.adds) seen.add(n.id);
      // A pad read twice (add(p, p)) has two uses, so it is never a part.
      const candidates = tree.leaves.map((l) => asPart(l, root, uses, outputs)).filter((p): p is Part => p !== null);
      const best = candidates.length >= 2 ? plan(tree, candidates, root, maxInputs) : null;
      if (!best) continue;
      rewrite(g, root, tree, best.parts, maxInputs);
      trees++;
      pads += best.parts.length;
      saved += best.saved;
      uses = useCounts(g);
    }
    if (trees) ctx.notes.push(`pads-to-concat: ${pads} pads in ${trees} sum(s) into concats, at least ${saved} kernel(s) fewer`);
    return { graph: trees ? g : graph, changed: trees > 0 };
  },
};
