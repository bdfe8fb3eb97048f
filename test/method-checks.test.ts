// Compile-time alignment checks (methods/checks.ts) run after every method of a composition.
// Each bad case below type-checks (shapes broadcast), so only the explicit check can catch it.
import { expect } from 'chai';
import * as t from 'io-ts';
import { compose, defineMethod, getMethod, findAll, GraphBuilder, MethodError, POINTS, retype, type MethodResult } from '../src/index.js';
import { backbone } from './methods-harness.js';

const Length = t.type({ length: t.Int });

/** Prompt tuning whose added label columns are 0 (a real token id) instead of -100. */
defineMethod({
  name: 'test-scored-prompt',
  description: 'test only: prompt tuning that forgets to ignore the soft positions in the labels',
  config: Length,
  apply(graph, cfg): MethodResult {
    const r = getMethod('prompt-tuning').apply(graph, cfg);
    const mark = findAll(r.graph, { op: 'mark', attrs: { point: POINTS.labels } })[0];
    const grow = r.graph.users(mark.id).find((u) => u.op === 'concat')!;
    const filler = r.graph.node(grow.inputs[0]);
    filler.attrs = { ...filler.attrs, value: 0 };
    return r;
  },
});

/** Prefix-tuning whose masks are cut to one column, which broadcasts over any key count. */
defineMethod({
  name: 'test-narrow-mask',
  description: 'test only: a deep prompt whose softmax masks no longer have one column per key',
  config: Length,
  apply(graph, cfg): MethodResult {
    const r = getMethod('prefix-tuning').apply(graph, { length: cfg.length, reparam: null });
    const g = r.graph, b = new GraphBuilder(g);
    for (const sm of findAll(g, { op: 'softmax' })) {
      const narrow = b.at({ before: sm.id }, () => b.slice(b.ref(sm.inputs[1]), 3, 0, 1));
      sm.inputs = [sm.inputs[0], narrow.id];
    }
    retype(g);
    return r;
  },
});

describe('compile-time alignment checks after a method', () => {
  it('every real method and composition passes them (they run inside compose)', () => {
    for (const kind of ['gpt2', 'bert'] as const) {
      const bb = backbone(kind);
      expect(() => compose(bb.graph, [{ method: 'prompt-tuning', length: 2 }, { method: 'prefix-tuning', length: 3, layers: [0] }, { method: 'lora', rank: 2 }])).not.to.throw();
      expect(() => compose(bb.graph, [{ method: 'p-tuning', virtualTokens: 2, encoder: 'mlp' }, { method: 'p-tuning-v2', length: 2 }])).not.to.throw();
    }
  });

  it('labels: soft positions that would be scored are refused, naming the method', () => {
    const bb = backbone('gpt2');
    expect(() => compose(bb.graph, [{ method: 'test-scored-prompt', length: 2 }])).to.throw(MethodError, /test-scored-prompt: the 2 added positions in front of the labels must carry the ignore index -100/);
  });

  it('attention masks: a mask that broadcasts over the keys is refused, naming the layer and shapes', () => {
    const bb = backbone('bert');
    expect(() => compose(bb.graph, [{ method: 'lora', rank: 2 }, { method: 'test-narrow-mask', length: 3 }]))
      .to.throw(MethodError, /method spec \[1\] test-narrow-mask: layer 0: the attention mask \[\d+, 1, \d+, 1\] has 1 columns for \d+ keys/);
  });

  it('queries and position ids: a method that lengthens the input without moving positions is refused', () => {
    defineMethod({
      name: 'test-stale-positions',
      description: 'test only: prompt tuning that claims one more input position than it added',
      config: Length,
      apply(graph, cfg): MethodResult {
        return { ...getMethod('prompt-tuning').apply(graph, cfg), inputPositions: cfg.length + 1 };
      },
    });
    const bb = backbone('gpt2');
    expect(() => compose(bb.graph, [{ method: 'test-stale-positions', length: 2 }])).to.throw(MethodError, /test-stale-positions: layer 0: queries \[\d+, \d+, \d+, \d+\] have \d+ positions, expected \d+/);
  });
});
