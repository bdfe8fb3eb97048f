// Adapters (Houlsby et al. 2019): a bottleneck MLP with a skip connection after the attention
// and/or MLP block of each chosen layer, at the marked `attn.output` / `mlp.output` points
// (after the block's output projection, before its residual add and, for BERT, its LayerNorm):
// y = x + up(act(down(x))). down [D→r] and up [r→D] use nn.Linear layout and names
// `<layer>.adapter.<attn|mlp>.{down,up}.{weight,bias}`; up starts at zero, so the adapted model
// starts equal to the backbone.

import * as t from 'io-ts';
import { POINTS } from '../graph/index.js';
import { GraphBuilder, type Ref } from '../ops/index.js';
import { defineMethod, MethodError } from './method.js';
import { LayersCodec, selectLayers } from './layers.js';
import { layerOf, points, rewriteAt } from './points.js';

const Where = t.union([t.literal('attn'), t.literal('mlp')]);

export const AdapterConfig = t.intersection([
  t.type({ bottleneck: t.Int }),
  t.partial({
    where: t.array(Where),
    layers: LayersCodec,
    nonlinearity: t.union([t.literal('relu'), t.literal('gelu')]),
    /** Std of the down projection's normal init (default 0.02; up is zeros). */
    initStd: t.number,
  }),
], 'adapter config');
export type AdapterConfig = t.TypeOf<typeof AdapterConfig>;

/** `h.3.attn` -> `h.3`; `encoder.layer.3.attention.output` -> `encoder.layer.3`. */
function layerScope(scope: string): string {
  const m = /^(.*?(?:^|\.)(?:h|layer)\.\d+)(?:\.|$)/.exec(scope);
  if (!m) throw new MethodError(`adapter: scope '${scope}' names no layer`);
  return m[1];
}

export const adapterParam = (layer: string, where: 'attn' | 'mlp', proj: 'down' | 'up', what: 'weight' | 'bias'): string =>
  `${layer}.adapter.${where}.${proj}.${what}`;

export const adapter = defineMethod({
  name: 'adapter',
  description: 'Houlsby bottleneck adapters after the attention and MLP blocks',
  config: AdapterConfig,
  apply(graph, cfg) {
    const name = 'adapter';
    const r = cfg.bottleneck;
    if (r < 1) throw new MethodError(`${name}: bottleneck must be >= 1, got ${r}`);
    const where: ('attn' | 'mlp')[] = [...new Set(cfg.where ?? (['attn', 'mlp'] as const))];
    if (where.length === 0) throw new MethodError(`${name}: 'where' is empty; use ['attn'], ['mlp'] or both`);
    const g = graph.clone();
    const b = new GraphBuilder(g);
    const std = cfg.initStd ?? 0.02;
    const marks = { attn: points(g, POINTS.attnOutput), mlp: points(g, POINTS.mlpOutput) };
    const count = marks.attn.length;
    if (count === 0 || marks.mlp.length !== count) throw new MethodError(`${name}: the backbone marks ${count} '${POINTS.attnOutput}' and ${marks.mlp.length} '${POINTS.mlpOutput}' points; expected one of each per layer`);
    const layers = new Set(selectLayers(cfg.layers, count, name));
    const trainable: string[] = [];
    for (const w of where) {
      for (const mark of marks[w].filter((m) => layers.has(layerOf(m.scope)))) {
        const layer = layerScope(mark.scope);
        const D = mark.type.shape[mark.type.shape.length - 1];
        if (g.params().some((p) => p.attrs.name === adapterParam(layer, w, 'down', 'weight'))) throw new MethodError(`${name}: ${layer} already has a ${w} adapter`);
        const linear = (x: Ref, proj: 'down' | 'up', nIn: number, nOut: number): Ref => b.within(proj, () => {
          const zero = proj === 'up';
          const W = b.param(adapterParam(layer, w, proj, 'weight'), [nOut, nIn], { trainable: true, init: zero ? 'zeros' : `normal:${std}` });
          const bias = b.param(adapterParam(layer, w, proj, 'bias'), [nOut], { trainable: true, init: 'zeros' });
          return b.add(b.matmul(x, W, { transB: true }), bias);
        });
        rewriteAt(b, mark, (x) => b.inScope(`${layer}.adapter.${w}`, () => {
          const h = linear(x, 'down', D, r);
          return b.add(x, linear(cfg.nonlinearity === 'gelu' ? b.gelu(h) : b.relu(h), 'up', r, D));
        }));
        for (const p of ['down', 'up'] as const) trainable.push(adapterParam(layer, w, p, 'weight'), adapterParam(layer, w, p, 'bias'));
      }
    }
    return {
      graph: g, trainable, inputPositions: 0, keyPositions: 0, positionPolicy: 'not-applicable',
      notes: [`${cfg.nonlinearity ?? 'relu'} bottleneck adapters (r = ${r}) after ${where.join(' and ')} in layers ${[...layers].join(', ')}`],
    };
  },
});
