// The method contract: a prompt method is a pure graph transform. It takes a backbone graph
// (with marked insertion points, see models/points.ts) and its validated config, and returns the
// rewritten graph plus what it declares: trainable parameters, added positions, position policy.

import * as t from 'io-ts';
import type { Graph } from '../graph/index.js';
import { decodeOrThrow } from '../util/decode.js';
import { checkSequenceAlignment } from './checks.js';

export interface MethodResult {
  readonly graph: Graph;
  /** Parameters this method declares trainable (new ones and any backbone ones it unfreezes). */
  readonly trainable: readonly string[];
  /** Positions added in front of the input sequence (prompt tuning). */
  readonly inputPositions: number;
  /** Positions added in front of every layer's keys and values (prefix-tuning, P-tuning v2). */
  readonly keyPositions: number;
  /**
   * How real tokens' position ids relate to added positions: `shifted` (they start after the
   * added ones, as Hugging Face does with a key prefix) or `unshifted` (they start at 0).
   */
  readonly positionPolicy: 'shifted' | 'unshifted' | 'not-applicable';
  /** Human-readable summary of what was inserted. */
  readonly notes: readonly string[];
}

export interface Method<C> {
  readonly name: string;
  readonly description: string;
  readonly config: t.Type<C, unknown, unknown>;
  apply(graph: Graph, config: C): MethodResult;
}

/** A method with its config type erased, as stored in the registry. */
export type AnyMethod = Method<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const methods = new Map<string, AnyMethod>();

export function defineMethod<C>(m: Method<C>): Method<C> {
  if (methods.has(m.name)) throw new Error(`method '${m.name}' is defined twice`);
  methods.set(m.name, m);
  return m;
}

export function methodNames(): string[] {
  return [...methods.keys()].sort();
}

export function getMethod(name: string): AnyMethod {
  const m = methods.get(name);
  if (!m) throw new MethodError(`unknown method '${name}'; known methods: ${methodNames().join(', ')}`);
  return m;
}

export class MethodError extends Error {
  override name = 'MethodError';
}

/** A method spec as JSON: `{ "method": "prefix-tuning", ...config }`. */
export const MethodSpecCodec = t.intersection([t.type({ method: t.string }), t.record(t.string, t.unknown)], 'method spec');
export type MethodSpec = t.TypeOf<typeof MethodSpecCodec>;

/** Validates a spec against its method's config codec (errors name the JSON path) and applies it. */
export function applySpec(graph: Graph, spec: unknown, what = 'method spec'): MethodResult {
  const s = decodeOrThrow(MethodSpecCodec, spec, what);
  const m = getMethod(s.method);
  const { method: _ignored, ...rest } = s;
  const config = decodeOrThrow(m.config, rest, `${what} (${m.name})`);
  try {
    return m.apply(graph, config);
  } catch (e) {
    if (e instanceof Error && !e.message.startsWith(`${m.name}:`)) e.message = `${m.name}: ${e.message}`;
    throw e;
  }
}

/**
 * Applies several methods in turn to one graph (e.g. prefix-tuning + LoRA). Each sees the
 * previous one's graph; declarations are merged. Nothing is returned unless all succeed.
 */
export function compose(graph: Graph, specs: readonly unknown[]): MethodResult {
  let g = graph;
  const trainable: string[] = [];
  const notes: string[] = [];
  let inputPositions = 0, keyPositions = 0;
  let positionPolicy: MethodResult['positionPolicy'] = 'not-applicable';
  specs.forEach((spec, i) => {
    const r = applySpec(g, spec, specs.length > 1 ? `method spec [${i}]` : 'method spec');
    g = r.graph;
    trainable.push(...r.trainable);
    notes.push(...r.notes);
    inputPositions += r.inputPositions;
    keyPositions += r.keyPositions;
    // Masks, keys, positions and labels must still line up after each method (names the method).
    checkSequenceAlignment(g, `${specs.length > 1 ? `method spec [${i}] ` : ''}${(spec as { method: string }).method}`, { inputPositions, keyPositions });
    if (r.positionPolicy !== 'not-applicable') positionPolicy = r.positionPolicy;
  });
  return { graph: g, trainable: [...new Set(trainable)], inputPositions, keyPositions, positionPolicy, notes };
}
