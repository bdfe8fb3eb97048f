// Task heads as a transform (P-tuning v2 replaces verbalizers with ordinary heads), so they
// compose with any method: `[{method: 'p-tuning-v2', ...}, {method: 'head', task: ..., labels: C}]`.
//
// - sequence-classification: logits [B,C] from BERT's `pooled` output when present (as HF
//   BertForSequenceClassification), else the first real position ([CLS]) of an encoder, or for a
//   causal model (one with a causal mask) the last non-padding position: mask_t·(1 - mask_{t+1}),
//   which is right for right- and left-padding alike (padding must be contiguous).
// - token-classification: logits [B,S,C]; labels [B,S] with -100 on ignored positions.
// - question-answering: Linear(D, 2) -> start/end logits [B,S]; loss (CE(start) + CE(end)) / 2.
//
// Heads read the last S positions of `hidden_states` (S = input_ids' length), so positions a
// method prepends (prompt tuning) never reach a head, whichever order the methods are applied in.
// Parameters `<name>.dense.{weight [C,D], bias [C]}` (nn.Linear layout) are trainable.
//
// Losses: each head outputs `<name>.loss` (its mean CE) and `<name>.label_count` (n_t, its
// counted labels). `loss` becomes Σ_t CE_t·n_t / Σ_t n_t over every head in the graph, i.e. the
// mean over all counted labels: a mixed-task batch sets the labels of other tasks' examples to
// -100 and gets the mean over examples of each one's own task loss. The LM `loss` and `logits`
// are dropped (and what only they used) unless the first head sets `keepLmLoss`: then they stay,
// as `lm_loss` and `logits`, and `loss` = lm_loss + the heads' loss.

import * as t from 'io-ts';
import { findAll, POINTS, type Graph } from '../graph/index.js';
import { DROPOUT_SEED_INPUT, GraphBuilder, refOf, SLICE_TO_END, type Ref } from '../ops/index.js';
import { defineMethod, MethodError } from './method.js';
import { point, points } from './points.js';

const Task = t.union([t.literal('sequence-classification'), t.literal('token-classification'), t.literal('question-answering')]);
export type HeadTask = t.TypeOf<typeof Task>;

export const HeadConfig = t.intersection([
  t.type({ task: Task }),
  t.partial({
    /** Classes (required for classification, >= 2); question answering always has 2 outputs. */
    labels: t.Int,
    /** Head name (default 'head'): prefixes its parameters, inputs and outputs; one per task. */
    name: t.string,
    /** Keep the backbone's LM loss (as `lm_loss`, added to the heads' loss) and `logits`. */
    keepLmLoss: t.boolean,
    /**
     * Dropout on the head's input features while training (0 <= p < 1; default 0), as HF's
     * classifier dropout; seeded by the step input `dropout_seed`, removed at inference.
     */
    dropout: t.number,
  }),
], 'head config');
export type HeadConfig = t.TypeOf<typeof HeadConfig>;

export const HEAD = {
  weight: (name: string) => `${name}.dense.weight`,
  bias: (name: string) => `${name}.dense.bias`,
  loss: (name: string) => `${name}.loss`,
  count: (name: string) => `${name}.label_count`,
} as const;

/** Names of the heads a graph already has (outputs `<name>.loss` with `<name>.label_count`). */
export function headNames(g: Graph): string[] {
  return [...g.outputs.keys()].filter((k) => k.endsWith('.label_count')).map((k) => k.slice(0, -'.label_count'.length)).filter((n) => g.outputs.has(HEAD.loss(n)));
}

/** Ids of nodes some output depends on. */
function live(g: Graph): Set<number> {
  const seen = new Set(g.outputs.values());
  const nodes = g.nodes;
  for (let k = nodes.length - 1; k >= 0; k--) if (seen.has(nodes[k].id)) for (const i of nodes[k].inputs) seen.add(i);
  return seen;
}

export const head = defineMethod({
  name: 'head',
  description: 'task head (sequence / token classification, extractive QA) with its loss',
  config: HeadConfig,
  apply(graph, cfg) {
    const method = 'head';
    const name = cfg.name ?? 'head';
    const task = cfg.task;
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new MethodError(`${method}: name '${name}' must be one identifier (letters, digits, _ or -; no dots)`);
    const C = task === 'question-answering' ? 2 : cfg.labels;
    if (task === 'question-answering' && cfg.labels !== undefined && cfg.labels !== 2) throw new MethodError(`${method}: (head '${name}') question-answering has 2 outputs (start, end), got labels ${cfg.labels}`);
    if (C === undefined || C < 2) throw new MethodError(`${method}: (head '${name}') ${task} needs labels >= 2 (the number of classes), got ${C ?? 'none'}`);
    const p = cfg.dropout ?? 0;
    if (!(p >= 0 && p < 1)) throw new MethodError(`${method}: (head '${name}') dropout must be in [0, 1), got ${p}`);
    const g = graph.clone();
    const before = live(g);
    const existing = headNames(g);
    if (existing.includes(name) || g.params().some((p) => p.attrs.name === HEAD.weight(name))) throw new MethodError(`${method}: a head named '${name}' already exists; give each task's head its own name`);
    const b = new GraphBuilder(g);
    const hidden = refOf(point(g, POINTS.hiddenStates, method));
    const ids = findAll(g, { op: 'input', attrs: { name: 'input_ids' } })[0];
    if (!ids || ids.type.shape.length !== 2) throw new MethodError(`${method}: the graph has no input_ids [B,S] input`);
    const [B, S] = ids.type.shape;
    const [hb, T, D] = hidden.type.shape;
    if (hidden.type.shape.length !== 3 || hb !== B || T < S) throw new MethodError(`${method}: (head '${name}') hidden_states are [${hidden.type.shape.join(',')}], expected [${B}, >=${S}, D] for input_ids [${B},${S}]`);

    const out = b.inScope(name, () => {
      // The input's own S positions (drops prepended prompt positions, if any).
      const seq = (): Ref => b.slice(hidden, 1, -S, SLICE_TO_END);
      const dense = (features: Ref): Ref => b.within('dense', () => b.add(
        b.matmul(p > 0 ? b.within('dropout', () => b.dropout(features, dropoutSeed(g, b), p)) : features, b.param(HEAD.weight(name), [C, D], { trainable: true, init: 'normal:0.02' }), { transB: true }),
        b.param(HEAD.bias(name), [C], { trainable: true, init: 'zeros' })));
      const count = (labels: Ref, classes: number): Ref => b.op('label_count', [labels], { ignoreIndex: -100, classes });
      if (task === 'question-answering') {
        const logits = dense(seq());
        const part = (k: number): Ref => b.reshape(b.slice(logits, 2, k, k + 1), [B, S]);
        const [start, end] = [part(0), part(1)];
        const ls = b.input(`${name}.start`, [B], 'i32'), le = b.input(`${name}.end`, [B], 'i32');
        const loss = b.scale(b.add(b.crossEntropy(start, ls), b.crossEntropy(end, le)), 0.5);
        return { logits: { start_logits: start, end_logits: end }, loss, count: count(ls, S) };
      }
      if (task === 'token-classification') {
        const logits = dense(seq());
        const labels = b.input(`${name}.labels`, [B, S], 'i32');
        return { logits: { logits }, loss: b.crossEntropy(logits, labels), count: count(labels, C) };
      }
      const logits = dense(sequenceFeatures(g, b, seq, B, S, D));
      const labels = b.input(`${name}.labels`, [B], 'i32');
      return { logits: { logits }, loss: b.crossEntropy(logits, labels), count: count(labels, C) };
    });
    for (const [k, r] of Object.entries(out.logits)) b.output(`${name}.${k}`, r);
    b.output(HEAD.loss(name), out.loss);
    b.output(HEAD.count(name), out.count);

    // The LM objective: kept as lm_loss, or dropped, when the first head arrives.
    const notes = [`${task} head '${name}' (${C} outputs) on ${g.outputs.has('pooled') && task === 'sequence-classification' ? 'the pooled output' : 'the hidden states'}`];
    if (existing.length === 0 && g.outputs.has('loss')) {
      if (cfg.keepLmLoss) g.setOutput('lm_loss', g.outputs.get('loss')!);
      else { g.outputs.delete('logits'); notes.push('the LM loss and logits are dropped (keepLmLoss keeps them)'); }
      g.outputs.delete('loss');
    } else if (cfg.keepLmLoss && !g.outputs.has('lm_loss')) {
      throw new MethodError(`${method}: (head '${name}') keepLmLoss, but an earlier head already dropped the LM loss; set keepLmLoss on the first head`);
    }
    b.output('loss', b.inScope('loss', () => combinedLoss(b, g, [...existing, name])));

    // Remove what only the replaced outputs used (the LM head, its labels, an earlier combined loss).
    const after = live(g);
    for (const n of [...g.nodes].reverse()) if (before.has(n.id) && !after.has(n.id)) g.remove(n.id);
    return {
      graph: g, trainable: [HEAD.weight(name), HEAD.bias(name)], inputPositions: 0, keyPositions: 0, positionPolicy: 'not-applicable', notes,
    };
  },
});

/** The graph's `dropout_seed` step input (one for every dropout of the graph). */
function dropoutSeed(g: Graph, b: GraphBuilder): Ref {
  const existing = findAll(g, { op: 'input', attrs: { name: DROPOUT_SEED_INPUT } })[0];
  return existing ? b.ref(existing.id) : b.input(DROPOUT_SEED_INPUT, [], 'i32');
}

/** [B,D] features for sequence classification (see the header). */
function sequenceFeatures(g: Graph, b: GraphBuilder, seq: () => Ref, B: number, S: number, D: number): Ref {
  const pooled = g.outputs.get('pooled');
  if (pooled !== undefined) return b.ref(pooled);
  if (points(g, POINTS.causalMask).length === 0) return b.reshape(b.slice(seq(), 1, 0, 1), [B, D]);
  // Causal model: one-hot of the last attended position, from the mask as fed ([B,S]).
  const m = b.cast(refOf(point(g, POINTS.attentionMask, 'head')), 'f32');
  const last = S === 1 ? m : b.mul(m, b.sub(b.constant(1), b.pad(b.slice(m, 1, 1, SLICE_TO_END), 1, 0, 1)));
  return b.sum(b.mul(seq(), b.reshape(last, [B, S, 1])), [1]);
}

/** Σ_t CE_t·n_t / Σ_t n_t over heads (just CE_t for one), plus lm_loss when kept. */
function combinedLoss(b: GraphBuilder, g: Graph, heads: readonly string[]): Ref {
  const out = (k: string): Ref => b.ref(g.outputs.get(k)!);
  let loss: Ref;
  if (heads.length === 1) {
    loss = out(HEAD.loss(heads[0]));
  } else {
    const num = heads.map((h) => b.mul(out(HEAD.loss(h)), out(HEAD.count(h)))).reduce((x, y) => b.add(x, y));
    const den = heads.map((h) => out(HEAD.count(h))).reduce((x, y) => b.add(x, y));
    // No counted label anywhere: every CE_t is 0 already; divide by 1 rather than 0.
    loss = b.div(num, b.where(b.greater(den, b.constant(0)), den, b.constant(1)));
  }
  return g.outputs.has('lm_loss') ? b.add(out('lm_loss'), loss) : loss;
}
