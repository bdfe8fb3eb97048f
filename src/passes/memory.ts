// Memory planning: liveness over the schedule (graph order) assigns intermediate values to
// shared buffers, so values whose lifetimes do not overlap use the same memory. Sources and
// outputs get their own buffers; activations that backward reads stay live until it has read
// them, and everything else is released right after its last reader.

import { type Graph } from '../graph/index.js';
import { deviceByteSize } from '../ops/wgsl.js';
import { getOp } from '../ops/registry.js';

/**
 * Nodes that are views (ops with `view`, e.g. reshape) mapped to the value whose buffer they
 * read: followed through chains of views. A graph output is never a view (it needs its own
 * buffer, which a copy kernel fills).
 */
export function viewsOf(graph: Graph): Map<number, number> {
  const outputs = new Set(graph.outputs.values());
  const views = new Map<number, number>();
  for (const n of graph.nodes) {
    if (n.op === 'input' || n.op === 'param' || outputs.has(n.id) || !getOp(n.op).view) continue;
    const src = n.inputs[0];
    views.set(n.id, views.get(src) ?? src);
  }
  return views;
}

export interface MemoryPlan {
  /** Buffer slot of each intermediate value (node id -> slot index). */
  readonly slotOf: ReadonlyMap<number, number>;
  /** Views (no buffer of their own) -> the value whose buffer they read. */
  readonly viewOf: ReadonlyMap<number, number>;
  /** Size in bytes of each shared slot. */
  readonly slotBytes: readonly number[];
  /** Bytes of sources (inputs, parameters) and outputs, which are not shared. */
  readonly dedicatedBytes: number;
  /** Peak bytes held at once: dedicated buffers plus the shared slots. */
  readonly peakBytes: number;
  /** What every value would take if each had its own buffer. */
  readonly unplannedBytes: number;
}

export function planMemory(graph: Graph): MemoryPlan {
  const nodes = graph.nodes;
  const outputs = new Set(graph.outputs.values());
  const viewOf = viewsOf(graph);
  const root = (id: number): number => viewOf.get(id) ?? id;
  // A view's readers read its root's buffer: the root lives until the last of them.
  const lastUse = new Map<number, number>();
  nodes.forEach((n, i) => n.inputs.forEach((x) => lastUse.set(root(x), i)));
  const dedicated = (id: number): boolean => {
    const op = graph.node(id).op;
    return op === 'input' || op === 'param' || outputs.has(id);
  };
  const slotOf = new Map<number, number>();
  const slotBytes: number[] = [];
  const free: number[] = []; // slot indices not in use, any size
  let dedicatedBytes = 0, unplannedBytes = 0;
  nodes.forEach((n, i) => {
    const bytes = deviceByteSize(n.type);
    unplannedBytes += bytes;
    if (viewOf.has(n.id)) {
      // No memory of its own.
    } else if (dedicated(n.id)) {
      dedicatedBytes += bytes;
    } else {
      // Best fit among free slots; grow the largest free slot if none is big enough.
      let best = -1;
      for (const s of free) if (slotBytes[s] >= bytes && (best < 0 || slotBytes[s] < slotBytes[best])) best = s;
      if (best < 0 && free.length) {
        best = free.reduce((a, s) => (slotBytes[s] > slotBytes[a] ? s : a), free[0]);
        slotBytes[best] = bytes;
      }
      if (best < 0) best = slotBytes.push(bytes) - 1;
      else free.splice(free.indexOf(best), 1);
      slotOf.set(n.id, best);
      // A value nobody reads is dead right away.
      if (!lastUse.has(n.id)) free.push(best);
    }
    for (const x of new Set(n.inputs.map(root))) {
      if (lastUse.get(x) === i && slotOf.has(x) && !free.includes(slotOf.get(x)!)) free.push(slotOf.get(x)!);
    }
  });
  const shared = slotBytes.reduce((a, b) => a + b, 0);
  return { slotOf, viewOf, slotBytes, dedicatedBytes, peakBytes: dedicatedBytes + shared, unplannedBytes };
}
