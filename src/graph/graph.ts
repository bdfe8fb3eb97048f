// The graph: single-output nodes in topological order, named outputs, and the
// structural edits every pass and method is built from. It knows nothing of any op's meaning.

import { GraphError } from './errors.js';
import type { Attrs, TensorType } from './types.js';

export interface Node {
  readonly id: number;
  op: string;
  inputs: number[];
  attrs: Attrs;
  type: TensorType;
  /** Hierarchical module path, e.g. `h.3.attn.c_attn`; '' at the top. */
  scope: string;
}

export type NodeSpec = Omit<Node, 'id'>;

/** Where a new node goes: at the end (default), or right before/after an existing node. */
export type InsertAt = { before: number } | { after: number } | 'end';

/** Ops that bring values in from outside the graph rather than computing them. */
export const SOURCE_OPS = new Set(['input', 'param']);

export class Graph {
  private order: Node[] = [];
  private byId = new Map<number, Node>();
  private nextId = 0;
  /** Named results, in insertion order (e.g. `logits`, `loss`). */
  readonly outputs = new Map<string, number>();

  get nodes(): readonly Node[] {
    return this.order;
  }

  get size(): number {
    return this.order.length;
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  node(id: number): Node {
    const n = this.byId.get(id);
    if (!n) throw new GraphError(`no node %${id} in graph`);
    return n;
  }

  /** Adds a node. Inputs must already exist; position defaults to the end. */
  add(spec: NodeSpec, at: InsertAt = 'end', id?: number): Node {
    for (const i of spec.inputs) {
      if (!this.byId.has(i)) throw new GraphError(`node ${spec.op}@${spec.scope || '<root>'} uses missing input %${i}`);
    }
    const nodeId = id ?? this.nextId;
    if (this.byId.has(nodeId)) throw new GraphError(`duplicate node id %${nodeId}`);
    this.nextId = Math.max(this.nextId, nodeId + 1);
    const node: Node = { id: nodeId, op: spec.op, inputs: [...spec.inputs], attrs: { ...spec.attrs }, type: spec.type, scope: spec.scope };
    if (at === 'end') {
      this.order.push(node);
    } else {
      const anchor = 'before' in at ? at.before : at.after;
      const idx = this.indexOf(anchor);
      this.order.splice('before' in at ? idx : idx + 1, 0, node);
    }
    this.byId.set(nodeId, node);
    return node;
  }

  indexOf(id: number): number {
    const idx = this.order.findIndex((n) => n.id === id);
    if (idx < 0) throw new GraphError(`no node %${id} in graph`);
    return idx;
  }

  /** Nodes that read `id`, in graph order. */
  users(id: number): Node[] {
    return this.order.filter((n) => n.inputs.includes(id));
  }

  /** Redirects every use of `from` (node inputs and graph outputs) to `to`, except in `except`. */
  replaceAllUses(from: number, to: number, except: ReadonlySet<number> = new Set()): void {
    this.node(to);
    for (const n of this.order) {
      if (except.has(n.id)) continue;
      n.inputs = n.inputs.map((i) => (i === from ? to : i));
    }
    for (const [name, id] of this.outputs) if (id === from) this.outputs.set(name, to);
    this.restoreTopologicalOrder();
  }

  /** Removes a node that nothing uses any more. */
  remove(id: number): void {
    const users = this.users(id);
    if (users.length) throw new GraphError(`cannot remove %${id}: still used by ${users.map((u) => `%${u.id}`).join(', ')}`);
    for (const [name, out] of this.outputs) if (out === id) throw new GraphError(`cannot remove %${id}: it is output '${name}'`);
    this.order.splice(this.indexOf(id), 1);
    this.byId.delete(id);
  }

  setOutput(name: string, id: number): void {
    this.node(id);
    this.outputs.set(name, id);
  }

  output(name: string): Node {
    const id = this.outputs.get(name);
    if (id === undefined) throw new GraphError(`graph has no output '${name}' (outputs: ${[...this.outputs.keys()].join(', ') || 'none'})`);
    return this.node(id);
  }

  /** Parameter nodes (op `param`), in graph order. */
  params(): Node[] {
    return this.order.filter((n) => n.op === 'param');
  }

  /** Input nodes (op `input`), in graph order. */
  inputs(): Node[] {
    return this.order.filter((n) => n.op === 'input');
  }

  /** Deep copy with the same node ids, so passes can rewrite without touching their input. */
  clone(): Graph {
    const g = new Graph();
    for (const n of this.order) g.add({ op: n.op, inputs: n.inputs, attrs: n.attrs, type: n.type, scope: n.scope }, 'end', n.id);
    for (const [k, v] of this.outputs) g.outputs.set(k, v);
    g.nextId = this.nextId;
    return g;
  }

  /**
   * Re-sorts nodes so every node follows its inputs, keeping the existing order where it is
   * already valid. Edits such as replaceAllUses can point an early node at a later one.
   */
  restoreTopologicalOrder(): void {
    const pos = new Map(this.order.map((n, i) => [n.id, i] as const));
    if (this.order.every((n, i) => n.inputs.every((x) => (pos.get(x) ?? Infinity) < i))) return;
    const done = new Set<number>();
    const visiting = new Set<number>();
    const out: Node[] = [];
    const visit = (n: Node): void => {
      if (done.has(n.id)) return;
      if (visiting.has(n.id)) throw new GraphError(`cycle through %${n.id} (${n.op} @${n.scope || '<root>'})`);
      visiting.add(n.id);
      for (const i of n.inputs) visit(this.node(i));
      visiting.delete(n.id);
      done.add(n.id);
      out.push(n);
    };
    for (const n of this.order) visit(n);
    this.order = out;
  }
}
