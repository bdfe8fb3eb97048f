// Loading an artifact directory back into method specs and parameter values: ours (one method,
// or a composition's sub-artifacts listed by promptgraph.json) or one PEFT wrote.

import { join } from 'node:path';
import type { MethodSpec } from '../../methods/index.js';
import { readSafetensors, type ModelConfig } from '../../models/index.js';
import type { HostTensor, ParamStore } from '../../ops/index.js';
import { exists, ExportError, readJsonObject, type ExportModel } from './common.js';
import { backboneHash, decodeMeta, type ArtifactMeta, type PartMeta } from './meta.js';
import { exporterFor, peftMethod } from './registry.js';

export interface LoadedArtifact {
  /** The method specs for the folded tensors (direct parameters), in order, then any heads. */
  readonly specs: readonly unknown[];
  /** Values of the specs' parameters: the parts' tensors, and heads' (and other tuned) parameters. */
  readonly params: ParamStore;
  /** The unfolded training state, when the artifact is ours. */
  readonly trainingState?: ParamStore;
  readonly meta?: ArtifactMeta;
}

/** Fields of a PEFT prompt-learning config that must equal the backbone's. */
function peftBackboneChecks(cfg: Readonly<Record<string, unknown>>, config: ModelConfig, where: string): string[] {
  if (!('num_layers' in cfg || 'token_dim' in cfg)) return []; // LoRA configs name no dims
  const checks: [string, unknown, number][] = [
    ['num_layers', cfg.num_layers, config.layers],
    ['token_dim', cfg.token_dim, config.dim],
    ['num_attention_heads', cfg.num_attention_heads, config.heads],
    ['num_transformer_submodules', cfg.num_transformer_submodules ?? 1, 1],
  ];
  return checks.filter(([, a, m]) => a !== m).map(([f, a, m]) => `${where}${f}: artifact ${JSON.stringify(a)}, backbone ${m}`);
}

function metaBackboneChecks(meta: ArtifactMeta, config: ModelConfig): string[] {
  const checks: [string, unknown, number | string][] = [
    ['backbone.kind', meta.backbone.kind, config.kind], ['backbone.layers', meta.backbone.layers, config.layers],
    ['backbone.dim', meta.backbone.dim, config.dim], ['backbone.heads', meta.backbone.heads, config.heads],
    ['backbone.vocab', meta.backbone.vocab, config.vocabSize],
  ];
  return checks.filter(([, a, m]) => a !== m).map(([f, a, m]) => `${f}: artifact ${JSON.stringify(a)}, backbone ${m}`);
}

/**
 * Loads an artifact (ours, single or composed, or PEFT's layout) for `model`; mismatches name
 * the field and both values, a composition's missing part names the part and the file.
 */
export async function loadArtifact(dir: string, model: ExportModel): Promise<LoadedArtifact> {
  const { config } = model;
  const metaJson = await readJsonObject(join(dir, 'promptgraph.json'));
  const meta = metaJson ? decodeMeta(dir, metaJson) : undefined;
  const topCfg = await readJsonObject(join(dir, 'adapter_config.json'));
  if (!meta && !topCfg) throw new ExportError(`${dir}: neither adapter_config.json (PEFT) nor promptgraph.json (ours): not an artifact directory`);

  // Every part's directory, config and tensors (a composition's parts are subdirectories).
  const partsMeta: readonly (PartMeta | undefined)[] = meta ? meta.parts : [undefined];
  // In order, so the first part with a problem is the one named.
  const read: { sub: string; cfg?: Record<string, unknown>; spec?: MethodSpec; tensors: ReadonlyMap<string, HostTensor> }[] = [];
  for (const [i, p] of partsMeta.entries()) {
    const sub = p ? join(dir, p.dir) : dir;
    const what = meta && meta.parts.length > 1 ? `${dir}: composition part ${i} (${p!.method.method}, ${p!.dir}/)` : dir;
    if (!(await exists(sub))) throw new ExportError(`${what}: ${sub}: no such directory`);
    const cfg = p?.dir === '.' || !p ? topCfg : await readJsonObject(join(sub, 'adapter_config.json'));
    if (!cfg && (!p || p.peftType !== null)) throw new ExportError(`${what}: ${join(sub, 'adapter_config.json')}: no such file`);
    const weights = join(sub, 'adapter_model.safetensors');
    if (!(await exists(weights))) throw new ExportError(`${what}: ${weights}: no such file`);
    read.push({ sub, ...(cfg ? { cfg } : {}), ...(p ? { spec: p.method } : {}), tensors: (await readSafetensors(weights)).tensors });
  }

  const bad = [
    ...read.flatMap((r) => (r.cfg ? peftBackboneChecks(r.cfg, config, meta && meta.parts.length > 1 ? `${r.sub}/adapter_config.json: ` : '') : [])),
    ...(meta ? metaBackboneChecks(meta, config) : []),
  ];
  if (bad.length) throw new ExportError(`${dir}: the artifact does not fit the backbone (${model.label ?? config.kind}):\n  ${bad.join('\n  ')}`);
  if (meta && meta.backbone.graphSha256 !== backboneHash(config)) throw new ExportError(`${dir}: backbone.graphSha256: artifact ${meta.backbone.graphSha256}, backbone ${backboneHash(config)} (same dims, different architecture)`);

  const specs: unknown[] = [];
  const params = new Map<string, HostTensor>();
  for (const r of read) {
    const method = r.spec?.method ?? peftMethod(r.cfg!, r.sub);
    const loaded = exporterFor(method).load({ dir: r.sub, config, tensors: r.tensors, ...(r.cfg ? { adapterConfig: r.cfg } : {}), ...(r.spec ? { spec: r.spec } : {}) });
    specs.push(loaded.spec);
    for (const [k, v] of loaded.params) params.set(k, v);
  }
  if (!meta) return { specs, params };
  // Heads' parameters (and an LM tuned with p-tuning's tuneLm) come from the training state.
  const state = (await readSafetensors(join(dir, 'training_state.safetensors'))).tensors;
  const partOwned = new Set(meta.parts.flatMap((p) => p.replaces));
  for (const [k, v] of state) if (!partOwned.has(k)) params.set(k, v);
  return { specs: [...specs, ...meta.heads], params, trainingState: state, meta };
}
