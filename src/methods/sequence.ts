// Lengthening the sequence a backbone sees: positions added in front of the input (prompt
// tuning) or in front of every layer's keys and values (prefix-tuning, P-tuning v2). Masks,
// labels, token types and position embeddings are extended to match; types are then
// re-inferred through the length-agnostic backbone.

import type { Graph } from '../graph/index.js';
import { GraphBuilder, type Ref } from '../ops/index.js';
import { POINTS } from '../graph/index.js';
import { points, rewriteAt } from './points.js';
import { MethodError } from './method.js';

/** `count` values of `value` in front of a [B,S] i32 tensor along axis 1. */
export function prependColumns(b: GraphBuilder, x: Ref, count: number, value: number): Ref {
  const [B] = x.type.shape;
  return b.concat([b.constant(value, [B, count], 'i32'), x], 1);
}

/** The attention mask gets `count` ones in front: added positions are always visible. */
export function extendAttentionMask(b: GraphBuilder, count: number): void {
  for (const m of points(b.graph, POINTS.attentionMask)) rewriteAt(b, m, (x) => prependColumns(b, x, count, 1));
}

/** GPT-2's causal mask gets `keys` more keys (and `queries` more queries). */
export function extendCausalMask(g: Graph, queries: number, keys: number): void {
  for (const m of points(g, POINTS.causalMask)) {
    const mask = g.node(m.inputs[0]);
    if (mask.op !== 'causal_mask') throw new MethodError(`the '${POINTS.causalMask}' point must mark a causal_mask node`);
    mask.attrs = { queries: Number(mask.attrs.queries) + queries, keys: Number(mask.attrs.keys) + keys };
  }
}

/**
 * Position embeddings: the marked slice of the table moves to [offset, offset + length).
 * Throws (naming the method) when that overflows the table.
 */
export function setPositions(g: Graph, method: string, offset: number, extraLength: number): void {
  for (const m of points(g, POINTS.positionEmbeds)) {
    const slice = g.node(m.inputs[0]);
    if (slice.op !== 'slice') throw new MethodError(`${method}: the '${POINTS.positionEmbeds}' point must mark a slice of the position table`);
    const table = g.node(slice.inputs[0]).type.shape[0];
    const length = Number(slice.attrs.end) - Number(slice.attrs.start) + extraLength;
    const start = Number(slice.attrs.start) + offset;
    if (start + length > table) {
      throw new MethodError(`${method}: positions ${start}..${start + length - 1} overflow the position table of ${table} (sequence ${length - extraLength} + ${extraLength} added, offset ${offset}); shorten the prompt or the input`);
    }
    slice.attrs = { ...slice.attrs, start, end: start + length };
  }
}

/** Labels and token types get `count` entries in front (-100: ignored; 0: segment A). */
export function extendSequenceInputs(b: GraphBuilder, count: number): void {
  for (const m of points(b.graph, POINTS.labels)) rewriteAt(b, m, (x) => prependColumns(b, x, count, -100));
  for (const m of points(b.graph, POINTS.tokenTypeIds)) rewriteAt(b, m, (x) => prependColumns(b, x, count, 0));
}
