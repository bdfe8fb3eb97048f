// Verbalizer: classification (or knowledge probing) read off the LM head at one position per
// example, as P-tuning v1 does. The i32 input `mask_position` [B] picks the LM logits [B,S,V] of
// each example at that position -> [B,V]:
//   BERT: the [MASK] token's position.
//   GPT-2: the last real token, whose next-token prediction is the answer (template.ts gives it).
// With `labelTokenIds` (one or more token ids per label), label c scores the mean of its ids'
// logits -> `label_logits` [B,C]; with `vocabulary: true` every token is a label (LAMA: the
// answer is a token id) and `label_logits` is [B,V]. `loss` becomes the cross-entropy of
// `label_logits` against the i32 input `label` [B] (-100 ignored), replacing the LM loss.
// A mask_position outside [0,S) reads all-zero logits rather than another example's row.

import * as t from 'io-ts';
import type { Graph } from '../graph/index.js';
import { GraphBuilder, type Ref } from '../ops/index.js';
import { defineMethod, MethodError } from './method.js';

export const MASK_POSITION = 'mask_position';
export const LABEL = 'label';

export const VerbalizerConfig = t.intersection([
  t.union([
    t.type({ labelTokenIds: t.array(t.array(t.Int)) }),
    t.type({ vocabulary: t.literal(true) }),
  ]),
  t.partial({ position: t.literal('mask') }),
], 'verbalizer config');
export type VerbalizerConfig = t.TypeOf<typeof VerbalizerConfig>;

export const verbalizer = defineMethod({
  name: 'verbalizer',
  description: 'label-word (or whole-vocabulary) scores of the LM logits at the mask position, with their cross-entropy loss',
  config: VerbalizerConfig,
  apply(graph, cfg) {
    const name = 'verbalizer';
    const g = graph.clone();
    const b = new GraphBuilder(g);
    const logitsId = g.outputs.get('logits');
    if (logitsId === undefined) throw new MethodError(`${name}: the graph has no 'logits' output (outputs: ${[...g.outputs.keys()].join(', ') || 'none'})`);
    const logits = b.ref(logitsId);
    if (logits.type.shape.length !== 3) throw new MethodError(`${name}: expected LM logits [B,S,V], got [${logits.type.shape.join(',')}]`);
    const [B, S, V] = logits.type.shape;
    const labels = 'labelTokenIds' in cfg ? checkLabels(cfg.labelTokenIds, V, name) : undefined;
    const oldLoss = g.outputs.get('loss');

    b.within('verbalizer', () => {
      const pos = b.input(MASK_POSITION, [B], 'i32');
      const label = b.input(LABEL, [B], 'i32');
      const atMask = logitsAt(b, logits, pos, B, S, V);
      const scores = labels ? labelScores(b, atMask, labels) : atMask;
      b.output('label_logits', scores);
      b.output('loss', b.within('loss', () => b.crossEntropy(scores, label)));
    });
    if (oldLoss !== undefined) removeDead(g, oldLoss);
    const what = labels ? `${labels.length} labels (${labels.map((ids) => ids.join('+')).join(', ')})` : `all ${V} tokens`;
    return {
      graph: g, trainable: [], inputPositions: 0, keyPositions: 0, positionPolicy: 'not-applicable',
      notes: [`verbalizer: 'label_logits' scores ${what} at '${MASK_POSITION}' [${B}]; 'loss' is their cross-entropy against '${LABEL}' [${B}]`],
    };
  },
});

/** Each example's logits at its position: [B,S,V] -> [B,V], via the flattened rows b*S + pos[b]. */
function logitsAt(b: GraphBuilder, logits: Ref, pos: Ref, B: number, S: number, V: number): Ref {
  const row = b.add(pos, constVector(b, Array.from({ length: B }, (_, k) => k * S)));
  const inRange = b.mul(b.greater(pos, b.constant(-1, [], 'i32')), b.greater(b.constant(S, [], 'i32'), pos));
  const index = b.where(inRange, row, b.constant(-1, [B], 'i32')); // -1: gather gives zeros
  return b.gather(b.reshape(logits, [B * S, V]), index);
}

/** [B,V] -> [B,C]: label c is the mean of the logits of its token ids. */
function labelScores(b: GraphBuilder, atMask: Ref, labels: readonly (readonly number[])[]): Ref {
  const [B] = atMask.type.shape;
  const C = labels.length;
  const picked = b.gather(atMask, constVector(b, labels.flat()), 1); // [B, K]
  const k = labels[0].length;
  if (labels.every((ids) => ids.length === k)) return k === 1 ? picked : b.mean(b.reshape(picked, [B, C, k]), [2]);
  let start = 0;
  return b.concat(labels.map((ids) => {
    const part = b.slice(picked, 1, start, start + ids.length);
    start += ids.length;
    return b.mean(part, [1], true);
  }), 1);
}

/** An i32 vector of given values (the op set has fills only: concatenate runs of equal values). */
function constVector(b: GraphBuilder, values: readonly number[]): Ref {
  const runs: Ref[] = [];
  for (let i = 0; i < values.length;) {
    let j = i + 1;
    while (j < values.length && values[j] === values[i]) j++;
    runs.push(b.constant(values[i], [j - i], 'i32'));
    i = j;
  }
  return runs.length === 1 ? runs[0] : b.concat(runs, 0);
}

function checkLabels(labels: readonly (readonly number[])[], V: number, name: string): readonly (readonly number[])[] {
  if (labels.length < 2) throw new MethodError(`${name}: labelTokenIds needs at least 2 labels, got ${labels.length}`);
  labels.forEach((ids, c) => {
    if (ids.length === 0) throw new MethodError(`${name}: label ${c} has no token ids`);
    const bad = ids.find((id) => id < 0 || id >= V);
    if (bad !== undefined) throw new MethodError(`${name}: label ${c} has token id ${bad}, outside the vocabulary of ${V}`);
  });
  return labels;
}

/** Removes what only the replaced output used (the LM loss and its `labels` input). */
function removeDead(g: Graph, root: number): void {
  const live = new Set(g.outputs.values());
  for (let k = g.nodes.length - 1; k >= 0; k--) if (live.has(g.nodes[k].id)) for (const i of g.nodes[k].inputs) live.add(i);
  const dead = new Set<number>([root]);
  for (let k = g.nodes.length - 1; k >= 0; k--) if (dead.has(g.nodes[k].id)) for (const i of g.nodes[k].inputs) dead.add(i);
  for (const n of [...g.nodes].reverse()) if (dead.has(n.id) && !live.has(n.id)) g.remove(n.id);
}
