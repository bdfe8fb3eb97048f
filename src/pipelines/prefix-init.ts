// Prefix-tuning's better initialization (Li & Liang 2021, section 7.2): instead of random
// vectors, the prefix starts as the frozen LM's own keys and values for real words (e.g.
// "summarize", "table-to-text:"). Run the backbone on the words, read every layer's marked keys
// and values, and lay them out as PEFT's prompt tensor [P, L*2*D] (block 2l: layer l's keys,
// 2l+1: its values) — the value of a direct (`reparam: null`) `prefix.embeddings`.

import { findAll, POINTS } from '../graph/index.js';
import { hostTensor, type HostTensor, type ParamStore } from '../ops/index.js';
import { buildBackbone, type ModelConfig } from '../models/index.js';
import { layerOf } from '../methods/points.js';
import { CpuExecutor } from '../runtime/cpu-executor.js';

export function prefixFromActivations(config: ModelConfig, weights: ParamStore, tokenIds: readonly number[]): HostTensor {
  const P = tokenIds.length;
  if (P === 0) throw new Error('prefixFromActivations: no token ids');
  const g = buildBackbone(config, { batch: 1, seq: P, labels: false });
  const marks = [...findAll(g, { op: 'mark', attrs: { point: POINTS.key } }), ...findAll(g, { op: 'mark', attrs: { point: POINTS.value } })];
  for (const m of marks) g.setOutput(`${String(m.attrs.point)}@${layerOf(m.scope)}`, m.id);
  const feeds: Record<string, HostTensor> = {
    input_ids: hostTensor([1, P], 'i32', tokenIds),
    attention_mask: hostTensor([1, P], 'i32', new Array(P).fill(1)),
  };
  if (config.kind === 'bert') feeds.token_type_ids = hostTensor([1, P], 'i32', new Array(P).fill(0));
  const out = new CpuExecutor('f32').runSync(g, feeds, weights);
  const L = config.layers, D = config.dim, H = config.heads, dh = D / H;
  const data = new Float64Array(P * L * 2 * D);
  for (let l = 0; l < L; l++) {
    for (const [kv, point] of [[0, POINTS.key], [1, POINTS.value]] as const) {
      const t = out.get(`${point}@${l}`)!; // [1, H, P, dh]
      for (let p = 0; p < P; p++) for (let h = 0; h < H; h++) for (let d = 0; d < dh; d++) {
        data[p * L * 2 * D + (2 * l + kv) * D + h * dh + d] = t.data[(h * P + p) * dh + d];
      }
    }
  }
  return hostTensor([P, L * 2 * D], 'f32', data);
}
