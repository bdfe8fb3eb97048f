// LoRA (Hu et al. 2021): a trainable low-rank update next to chosen frozen linear layers,
// out = x·W + b + (x·Aᵀ·Bᵀ)·(alpha/rank), with PEFT's layout and names: `<module>.lora_A.weight`
// [rank, in] (uniform ±1/sqrt(in), PEFT's kaiming_uniform(a=√5) bound) and `<module>.lora_B.weight`
// [out, rank] (zeros, so the adapted model starts equal to the backbone).
//
// The update is added to the matmul's output, before the bias add: every reader of the matmul
// reads matmul + Δ. A linear module is a matmul whose right operand is a `<module>.weight`
// parameter that no `gather` reads (which rules out tied embedding/LM-head tables) and that is not
// itself a LoRA factor; GPT-2's Conv1D
// ([in, out], x·W) and nn.Linear ([out, in], x·Wᵀ, `transB`) are told apart by the matmul's attrs.

import * as t from 'io-ts';
import { scopeMatches, type Graph, type Node } from '../graph/index.js';
import { GraphBuilder, refOf } from '../ops/index.js';
import { defineMethod, MethodError } from './method.js';
import { LayersCodec, selectLayers } from './layers.js';
import { layerKeyValues, layerOf, rewriteAt } from './points.js';

export const LoraConfig = t.intersection([
  t.type({ rank: t.Int }),
  t.partial({
    /** Scaling numerator: the update is multiplied by alpha/rank (default alpha = rank). */
    alpha: t.number,
    /** Module patterns (scope syntax; a pattern also matches modules inside the one it names). */
    targets: t.array(t.string),
    layers: LayersCodec,
  }),
], 'lora config');
export type LoraConfig = t.TypeOf<typeof LoraConfig>;

export const LORA = {
  a: (module: string) => `${module}.lora_A.weight`,
  b: (module: string) => `${module}.lora_B.weight`,
} as const;

const DEFAULT_TARGETS = {
  gpt2: ['h.*.attn.c_attn'],
  bert: ['encoder.layer.*.attention.self.{query,value}'],
} as const;

export interface LinearModule {
  readonly module: string;
  readonly matmul: Node;
  readonly weight: Node;
  /** nn.Linear layout [out, in] read as x·Wᵀ; otherwise Conv1D [in, out] read as x·W. */
  readonly transposed: boolean;
  readonly in: number;
  readonly out: number;
}

/** Every linear layer of the graph (see the header for what counts). */
export function linearModules(g: Graph): LinearModule[] {
  const gathered = new Set(g.nodes.filter((n) => n.op === 'gather').map((n) => n.inputs[0]));
  const found: LinearModule[] = [];
  for (const mm of g.nodes) {
    if (mm.op !== 'matmul' || mm.attrs.transA === true) continue;
    const w = g.node(mm.inputs[1]);
    const wName = String(w.attrs.name);
    if (w.op !== 'param' || w.type.shape.length !== 2 || !wName.endsWith('.weight') || gathered.has(w.id) || wName.includes('.lora_')) continue;
    const transposed = mm.attrs.transB === true;
    const [r, c] = w.type.shape;
    found.push({ module: wName.slice(0, -'.weight'.length), matmul: mm, weight: w, transposed, in: transposed ? c : r, out: transposed ? r : c });
  }
  return found;
}

export const lora = defineMethod({
  name: 'lora',
  description: 'low-rank updates (A, B) next to frozen linear layers',
  config: LoraConfig,
  apply(graph, cfg) {
    const name = 'lora';
    const rank = cfg.rank;
    if (rank < 1) throw new MethodError(`${name}: rank must be >= 1, got ${rank}`);
    const alpha = cfg.alpha ?? rank;
    const g = graph.clone();
    const b = new GraphBuilder(g);
    const isGpt2 = g.params().some((p) => p.attrs.name === 'wte.weight');
    const targets = cfg.targets ?? [...DEFAULT_TARGETS[isGpt2 ? 'gpt2' : 'bert']];
    const layers = new Set(selectLayers(cfg.layers, layerKeyValues(g, name).length, name));
    const modules = linearModules(g);
    const inLayers = (m: LinearModule): boolean => {
      if (cfg.layers === undefined) return true;
      try { return layers.has(layerOf(m.module)); } catch { return false; }
    };
    const chosen = modules.filter((m) => targets.some((p) => scopeMatches(m.module, p)) && inLayers(m));
    for (const p of targets) {
      if (!modules.some((m) => scopeMatches(m.module, p))) {
        throw new MethodError(`${name}: target '${p}' matches no linear module; available: ${modules.map((m) => m.module).join(', ')}`);
      }
    }
    if (chosen.length === 0) throw new MethodError(`${name}: targets ${targets.join(', ')} match no linear module in layers ${[...layers].join(', ')}`);
    const scale = alpha / rank;
    const trainable: string[] = [];
    for (const m of chosen) {
      if (g.params().some((p) => p.attrs.name === LORA.a(m.module))) throw new MethodError(`${name}: ${m.module} already has a LoRA update`);
      const x = refOf(g.node(m.matmul.inputs[0]));
      rewriteAt(b, m.matmul, (y) => {
        const A = b.within('lora_A', () => b.param(LORA.a(m.module), [rank, m.in], { trainable: true, init: `uniform:${1 / Math.sqrt(m.in)}` }));
        const B = b.within('lora_B', () => b.param(LORA.b(m.module), [m.out, rank], { trainable: true, init: 'zeros' }));
        const delta = b.within('lora', () => {
          const d = b.matmul(b.matmul(x, A, { transB: true }), B, { transB: true });
          return scale === 1 ? d : b.scale(d, scale);
        });
        return b.add(y, delta);
      });
      trainable.push(LORA.a(m.module), LORA.b(m.module));
    }
    return {
      graph: g, trainable, inputPositions: 0, keyPositions: 0, positionPolicy: 'not-applicable',
      notes: [`rank-${rank} updates (alpha ${alpha}, scale ${scale}) on ${chosen.map((m) => `${m.module} [${m.in}→${m.out}]`).join(', ')}`],
    };
  },
});
