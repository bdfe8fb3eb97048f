// GPT-2 decode steps with a key/value cache, as a rewrite of an ordinary GPT-2 graph (built for
// the T new tokens, possibly already transformed by a method). At every layer's marked keys and
// values the cached ones are concatenated in front, the same mechanism prefix-tuning uses, so a
// key prefix a method inserted stays in front of the cache: keys = [prefix, past, new].
// Apply methods first, then this rewrite (a prefix added afterwards would land between cache
// and new tokens, and prefix-tuning's own key-length check rejects it).
//
// Two cache layouts, both static-shaped per compiled graph:
//  - `grow`: present = past ++ new, [B,H,past+T,dh]: exact HF semantics, one graph per length.
//  - `window`: a fixed capacity C = pastLength; present = past[T:] ++ new, [B,H,C,dh], so the
//    newest T positions are always the last slots and the causal mask needs no offset. Empty or
//    stale slots are hidden by the attention mask [B,C]; positions come from `position_ids`.
//    One graph serves every step, and `residentCache` keeps it on the device between steps.

import { findAll, type AttrValue, type Graph, type Node } from '../graph/index.js';
import { GraphBuilder, refOf, retype } from '../ops/index.js';
import { POINTS } from '../graph/index.js';
import { layerKeyValues, rewriteAt } from '../methods/points.js';
import { extendCausalMask } from '../methods/sequence.js';
import { buildGpt2, type Gpt2Dims } from './gpt2.js';

export class DecodeStepError extends Error {
  override name = 'DecodeStepError';
}

/** Names of the decode graph's inputs, outputs and cache parameters. */
export const DECODE = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  /** i32 [B,T]: each new token's position id (the method's position offset is added in-graph). */
  positionIds: 'position_ids',
  /** i32 [B] (resident cache only): row i continues cache row beam_idx[i] (beam reordering). */
  beamIdx: 'beam_idx',
  nextLogits: 'next_logits',
  logits: 'logits',
  past: (layer: number, kv: KV) => `past.${layer}.${kv}`,
  present: (layer: number, kv: KV) => `present.${layer}.${kv}`,
  /** The resident cache parameter; the step writes it back through the `next:` output. */
  cache: (layer: number, kv: KV) => `cache.${layer}.${kv}`,
} as const;

export type KV = 'key' | 'value';
export type CacheLayout = 'grow' | 'window';

export interface DecodeOptions {
  /** Cached positions in front of the new tokens; with `window`, the cache capacity. */
  readonly pastLength: number;
  readonly cache?: CacheLayout;
  /** Also output `logits` [B,T,V] (default: only `next_logits` [B,V], the last position's). */
  readonly allLogits?: boolean;
  /** Output `present.<l>.key/value` (default true). */
  readonly present?: boolean;
}

export interface DecodeStepShape extends DecodeOptions {
  readonly batch: number;
  readonly newTokens: number;
}

/** The plain GPT-2 decode step (no method): build for T new tokens, then rewrite. */
export function buildGpt2DecodeStep(cfg: Gpt2Dims, shape: DecodeStepShape): Graph {
  return toDecodeStep(buildGpt2(cfg, { batch: shape.batch, seq: shape.newTokens, labels: false }), shape);
}

/**
 * Rewrites a GPT-2 graph built for T tokens into a decode step. Inputs: input_ids [B,T],
 * position_ids [B,T], attention_mask [B,K] over the keys (K = past+T, or C with `window`), and
 * past.<l>.key/value; outputs next_logits [B,V] and present.<l>.key/value.
 */
export function toDecodeStep(graph: Graph, opts: DecodeOptions): Graph {
  const layout = opts.cache ?? 'grow';
  const g = graph.clone();
  const b = new GraphBuilder(g);
  const ids = inputNamed(g, DECODE.inputIds);
  const [B, T] = ids.type.shape;
  const past = opts.pastLength;
  if (!Number.isInteger(past) || past < 0) throw new DecodeStepError(`pastLength must be a non-negative integer, got ${past}`);
  if (layout === 'window' && past < T) throw new DecodeStepError(`a window cache of ${past} slots cannot take ${T} new tokens`);
  const keys = layout === 'window' ? past : past + T;

  positionsFromIds(b, T);
  g.outputs.delete('loss');
  const mask = inputNamed(g, DECODE.attentionMask);
  mask.type = { shape: [B, keys], dtype: mask.type.dtype };
  extendCausalMask(g, 0, keys - T);

  for (const { layer, key, value } of layerKeyValues(g, 'decode')) {
    for (const [kv, mark] of [['key', key], ['value', value]] as const) {
      const [, H, , dh] = mark.type.shape;
      // With a full window (past == T) nothing of the past survives the shift.
      const present = past === 0 || (layout === 'window' && past === T) ? refOf(mark) : rewriteAt(b, mark, (x) => {
        const cached = b.input(DECODE.past(layer, kv), [B, H, past, dh]);
        const kept = layout === 'window' ? b.slice(cached, 2, T, past) : cached;
        return b.within('cache', () => b.concat([kept, x], 2));
      });
      if (opts.present ?? true) b.output(DECODE.present(layer, kv), present);
    }
  }
  lastLogits(b, T, opts.allLogits ?? false);
  retype(g);
  return g;
}

/**
 * Moves the cache onto the device: each `past` input becomes a parameter `cache.<l>.<kv>`
 * (zeros at first), read through a gather by `beam_idx` [B] (beam reordering without a round
 * trip), and its `present` output becomes `next:cache.<l>.<kv>`, which the runtime copies into
 * the parameter after every step. Needs the `window` layout (present has past's shape).
 */
export function residentCache(graph: Graph): Graph {
  const g = graph.clone();
  const b = new GraphBuilder(g);
  const pasts = g.inputs().filter((n) => /^past\.\d+\.(key|value)$/.test(String(n.attrs.name)));
  if (pasts.length === 0) throw new DecodeStepError('the graph has no past.<l>.key/value inputs (pastLength 0?)');
  const B = pasts[0].type.shape[0];
  const beam = b.at({ before: pasts[0].id }, () => b.input(DECODE.beamIdx, [B], 'i32'));
  for (const n of pasts) {
    const [, layer, kv] = String(n.attrs.name).split('.');
    const presentName = DECODE.present(Number(layer), kv as KV);
    const present = g.output(presentName);
    if (present.type.shape.join() !== n.type.shape.join()) {
      throw new DecodeStepError(`a resident cache needs the window layout: ${presentName} is [${present.type.shape}] but ${String(n.attrs.name)} is [${n.type.shape}]`);
    }
    const name = DECODE.cache(Number(layer), kv as KV);
    const read = b.at({ before: n.id }, () => b.inScope(n.scope, () =>
      b.gather(b.param(name, n.type.shape, { trainable: false, init: 'zeros' }), beam, 0)));
    g.replaceAllUses(n.id, read.id);
    g.remove(n.id);
    g.outputs.delete(presentName);
    g.setOutput(`next:${name}`, present.id);
  }
  return g;
}

/** Names of a resident decode graph's cache parameters. */
export function cacheParams(graph: Graph): string[] {
  return graph.params().map((p) => String(p.attrs.name)).filter((n) => /^cache\.\d+\.(key|value)$/.test(n));
}

/**
 * The marked position slice `table[start, start+T)` becomes `table[start:]` gathered at
 * position_ids, so each row can have its own positions (left padding, a growing cache) while a
 * method's offset (prefix-tuning's shift) is kept.
 */
function positionsFromIds(b: GraphBuilder, T: number): void {
  const g = b.graph;
  const marks = findAll(g, { op: 'mark', attrs: { point: POINTS.positionEmbeds } });
  if (marks.length !== 1) throw new DecodeStepError(`the graph must mark one '${POINTS.positionEmbeds}' point, found ${marks.length}`);
  const mark = marks[0];
  const slice = g.node(mark.inputs[0]);
  const start = Number(slice.attrs.start), end = Number(slice.attrs.end);
  if (slice.op !== 'slice' || end - start !== T) {
    throw new DecodeStepError(`position embeddings cover ${end - start} positions for ${T} tokens: methods that add input positions (prompt tuning) cannot decode with a cache`);
  }
  const table = b.ref(slice.inputs[0]);
  const ids = refOf(inputNamed(g, DECODE.inputIds));
  const pos = b.at({ before: mark.id }, () => b.inScope(mark.scope, () => {
    const positionIds = b.input(DECODE.positionIds, ids.type.shape, 'i32');
    const usable = start > 0 ? b.slice(table, 0, start, table.type.shape[0]) : table;
    return b.gather(usable, positionIds, 0);
  }));
  mark.inputs = [pos.id];
  if (g.users(slice.id).length === 0) g.remove(slice.id);
}

/** `next_logits` [B,V]: the LM head applied to the last position's hidden state only. */
function lastLogits(b: GraphBuilder, T: number, keepAll: boolean): void {
  const g = b.graph;
  const head = g.output(DECODE.logits);
  const hidden = b.ref(head.inputs[0]);
  const next = b.inScope(head.scope, () => {
    if (hidden.type.shape.length !== 3) return b.slice(refOf(head), 1, T - 1, T);
    const last = b.slice(hidden, 1, T - 1, T);
    return b.op(head.op, [last, ...head.inputs.slice(1).map((i) => b.ref(i))], head.attrs as Record<string, AttrValue>);
  });
  const [B, , V] = head.type.shape;
  b.output(DECODE.nextLogits, b.inScope(head.scope, () => b.reshape(next, [B, V])));
  if (!keepAll) g.outputs.delete(DECODE.logits);
}

function inputNamed(g: Graph, name: string): Node {
  const found = g.inputs().filter((n) => n.attrs.name === name);
  if (found.length !== 1) throw new DecodeStepError(`the graph must have one input '${name}', found ${found.length}`);
  return found[0];
}

/** How many position ids a decode graph can embed (the table, less a method's offset). */
export function positionCount(graph: Graph): number {
  const ids = inputNamed(graph, DECODE.positionIds);
  const gather = graph.users(ids.id).find((n) => n.op === 'gather');
  if (!gather) throw new DecodeStepError(`'${DECODE.positionIds}' feeds no gather`);
  return graph.node(gather.inputs[0]).type.shape[0];
}
