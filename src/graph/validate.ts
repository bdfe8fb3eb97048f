// Structural and type validation, run between passes. Op meaning comes in through `OpSchemas`,
// which the op registry implements, so the IR itself stays free of op knowledge.

import type { Graph, Node } from './graph.js';
import { GraphError, ShapeError } from './errors.js';
import { formatType, sameType, type TensorType } from './types.js';

export interface OpSchemas {
  has(op: string): boolean;
  names(): readonly string[];
  /** Checks attributes and returns the output type, or throws ShapeError/DecodeError with details. */
  inferType(node: Node, inputs: readonly TensorType[]): TensorType;
}

export function describeNode(n: Node): string {
  return `%${n.id} ${n.op} @${n.scope || '<root>'}`;
}

/** Throws on the first problem: order, unknown op, bad attributes, or a type that disagrees. */
export function validate(graph: Graph, schemas: OpSchemas): void {
  const seen = new Set<number>();
  for (const n of graph.nodes) {
    if (!schemas.has(n.op)) {
      throw new GraphError(`unknown op '${n.op}' at ${describeNode(n)}; known ops: ${[...schemas.names()].sort().join(', ')}`);
    }
    for (const i of n.inputs) {
      if (!seen.has(i)) throw new GraphError(`${describeNode(n)} uses %${i}, which is missing or comes later`);
    }
    const inputTypes = n.inputs.map((i) => graph.node(i).type);
    let inferred: TensorType;
    try {
      inferred = schemas.inferType(n, inputTypes);
    } catch (e) {
      // Keep the error's class (ShapeError, DecodeError...) and prefix where it happened.
      if (e instanceof Error) {
        const shapes = inputTypes.map(formatType).join(', ');
        e.message = `${describeNode(n)} (inputs ${shapes || 'none'}): ${e.message}`;
      }
      throw e;
    }
    if (!sameType(inferred, n.type)) {
      throw new ShapeError(`${describeNode(n)} is recorded as ${formatType(n.type)} but its inputs give ${formatType(inferred)}`);
    }
    seen.add(n.id);
  }
  for (const [name, id] of graph.outputs) {
    if (!seen.has(id)) throw new GraphError(`output '${name}' refers to missing node %${id}`);
  }
  // One feed per input name: two inputs of one name would silently read the same value.
  const inputs = new Map<string, Node>();
  for (const n of graph.inputs()) {
    const name = String(n.attrs.name);
    const other = inputs.get(name);
    if (other) throw new GraphError(`two inputs are named '${name}': ${describeNode(other)} and ${describeNode(n)}`);
    inputs.set(name, n);
  }
}
