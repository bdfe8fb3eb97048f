// Errors raised by the IR. Each names what is wrong and where, so users can act on it.

export class GraphError extends Error {
  override name = 'GraphError';
}

/** A node's inputs do not fit its op: names the node, its scope and the shapes involved. */
export class ShapeError extends GraphError {
  override name = 'ShapeError';
}

export { DecodeError } from '../util/decode.js';
