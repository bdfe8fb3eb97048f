// Compile-time checks run after every method of a composition (METHODS.md: "prompt/prefix
// length, attention mask and label length mismatches found only at run time"). Type inference
// already rejects shapes that cannot broadcast; these catch the ones that broadcast by accident
// or line up wrongly, and name the method, the layer and the shapes:
// - queries: every layer sees S + inputPositions positions (S = input_ids' length);
// - keys/values: per layer, between the queries' length and that plus the added key positions,
//   values as long as keys;
// - attention masks: every layer's softmax mask has exactly one column per key (a [.., 1] mask
//   would broadcast silently);
// - position ids: the position-embedding slice covers the sequence and stays in the table;
// - labels: the labels a loss reads are as long as the sequence the logits come from, and the
//   added positions carry the ignore index (-100), so no soft token is ever scored.

import { findAll, POINTS, type Graph, type Node } from '../graph/index.js';
import { MethodError } from './method.js';
import { layerOf, points } from './points.js';

export interface AddedPositions {
  /** Positions in front of the input (summed over the methods applied so far). */
  readonly inputPositions: number;
  /** Most key/value positions any layer may have gained. */
  readonly keyPositions: number;
}

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

export function checkSequenceAlignment(g: Graph, method: string, added: AddedPositions): void {
  const ids = findAll(g, { op: 'input', attrs: { name: 'input_ids' } })[0];
  if (!ids || ids.type.shape.length !== 2) return; // not a token model: nothing to align
  const S = ids.type.shape[1];
  const Q = S + added.inputPositions;
  const fail = (what: string): never => {
    throw new MethodError(`${method}: ${what} (input_ids ${fmt(ids.type.shape)}, ${added.inputPositions} input and up to ${added.keyPositions} key positions added)`);
  };

  for (const q of points(g, POINTS.query)) {
    const layer = layerOf(q.scope);
    if (q.type.shape[2] !== Q) fail(`layer ${layer}: queries ${fmt(q.type.shape)} have ${q.type.shape[2]} positions, expected ${Q}`);
    for (const sm of findAll(g, { op: 'softmax', scope: q.scope, exact: true })) {
      const scores = g.node(sm.inputs[0]).type.shape;
      const T = scores[scores.length - 1];
      if (T < Q || T > Q + added.keyPositions) fail(`layer ${layer}: attention scores ${fmt(scores)} have ${T} keys, expected ${Q}..${Q + added.keyPositions}`);
      const mask = sm.inputs[1] === undefined ? undefined : g.node(sm.inputs[1]).type.shape;
      if (mask && mask[mask.length - 1] !== T) fail(`layer ${layer}: the attention mask ${fmt(mask)} has ${mask[mask.length - 1]} columns for ${T} keys`);
      for (const v of points(g, POINTS.value).filter((n) => n.scope === q.scope)) {
        const used = valueLength(g, v);
        if (used !== T) fail(`layer ${layer}: ${used} value positions for ${T} key positions`);
      }
    }
  }

  for (const m of points(g, POINTS.positionEmbeds)) {
    const slice = g.node(m.inputs[0]);
    if (slice.op !== 'slice') fail(`the '${POINTS.positionEmbeds}' point marks a '${slice.op}', not a slice of the position table`);
    const table = g.node(slice.inputs[0]).type.shape[0];
    const [start, end] = [Number(slice.attrs.start), Number(slice.attrs.end)];
    if (end - start !== Q) fail(`position ids ${start}..${end - 1} cover ${end - start} positions, expected ${Q}`);
    if (start < 0 || end > table) fail(`position ids ${start}..${end - 1} fall outside the position table of ${table}`);
  }

  const hidden = points(g, POINTS.hiddenStates)[0];
  for (const m of points(g, POINTS.labels)) {
    const labels = consumedLabels(g, m);
    const L = labels.type.shape[1];
    if (hidden && L !== hidden.type.shape[1]) fail(`labels ${fmt(labels.type.shape)} as the loss reads them do not line up with hidden states ${fmt(hidden.type.shape)}`);
    const front = L - S;
    if (front > 0 && !ignoresFront(g, labels, front)) fail(`the ${front} added positions in front of the labels must carry the ignore index -100`);
  }
}

/** The value tensor as the attention reads it: the marked one, or what a method concatenated onto it. */
function valueLength(g: Graph, v: Node): number {
  let n = v;
  for (;;) {
    const users = g.users(n.id);
    const grow = users.find((u) => u.op === 'concat' && (u.scope === v.scope || u.scope.startsWith(`${v.scope}.`)));
    if (!grow) return n.type.shape[2];
    n = grow;
  }
}

/** Follows the labels mark through the concats methods put in front of it. */
function consumedLabels(g: Graph, mark: Node): Node {
  let n = mark;
  for (;;) {
    const grow = g.users(n.id).find((u) => u.op === 'concat' && u.inputs[u.inputs.length - 1] === n.id);
    if (!grow) return n;
    n = grow;
  }
}

/** True when the first `count` columns of a labels concat chain are constants equal to -100. */
function ignoresFront(g: Graph, labels: Node, count: number): boolean {
  let covered = 0;
  let n = labels;
  while (n.op === 'concat' && covered < count) {
    const parts = n.inputs.map((i) => g.node(i));
    for (const p of parts.slice(0, -1)) {
      if (p.op !== 'const' || Number(p.attrs.value) !== -100) return false;
      covered += p.type.shape[1];
    }
    n = parts[parts.length - 1];
  }
  return covered === count;
}
