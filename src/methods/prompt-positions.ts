// The i32 input `prompt_positions` [B,S] that places prompt tokens inside the sequence (P-tuning
// v1's virtual tokens, infix-tuning's infix): the token's index 0..P-1 there, -1 elsewhere.
// One method per graph may own it (two would silently read the same feed).

import type { Graph } from '../graph/index.js';
import type { GraphBuilder, Ref } from '../ops/index.js';
import { MethodError } from './method.js';

export const PROMPT_POSITIONS = 'prompt_positions';

/** Refuses a graph that already has the input (naming the method that asked). */
export function claimPromptPositions(g: Graph, method: string): void {
  if (g.inputs().some((n) => n.attrs.name === PROMPT_POSITIONS)) {
    throw new MethodError(`${method}: the graph already has a '${PROMPT_POSITIONS}' input (from p-tuning or infix-tuning); one method per graph can place tokens by it`);
  }
}

/** The input [B,S] and where it holds a prompt index (0 <= pos < P), as an i32 [B,S] 0/1 mask. */
export function promptPositionsInput(b: GraphBuilder, B: number, S: number, P: number): { pos: Ref; inRange: Ref } {
  const pos = b.input(PROMPT_POSITIONS, [B, S], 'i32');
  return { pos, inRange: b.mul(b.greater(pos, b.constant(-1, [], 'i32')), b.greater(b.constant(P, [], 'i32'), pos)) };
}
