// promptgraph.json: what our artifacts record beyond PEFT's files, and the backbone hash.

import { createHash } from 'node:crypto';
import * as t from 'io-ts';
import { graphToJson } from '../../graph/index.js';
import { MethodSpecCodec } from '../../methods/index.js';
import { buildBackbone, type ModelConfig } from '../../models/index.js';
import { decodeOrThrow } from '../../util/decode.js';
import { ExportError } from './common.js';

export const ARTIFACT_FORMAT = 'promptgraph.artifact/2';

/** sha256 of the backbone graph (at a canonical [1, 1] shape): identifies the architecture. */
export function backboneHash(config: ModelConfig): string {
  return createHash('sha256').update(JSON.stringify(graphToJson(buildBackbone(config, { batch: 1, seq: 1, labels: false })))).digest('hex');
}

const BackboneCodec = t.type({ kind: t.string, layers: t.number, dim: t.number, heads: t.number, vocab: t.number, graphSha256: t.string });
const PartMetaCodec = t.intersection([
  // replaces: the trainable parameters the part's tensors stand for (the rest of the training state loads as is).
  t.type({ dir: t.string, method: MethodSpecCodec, peftType: t.union([t.string, t.null]), replaces: t.array(t.string) }),
  t.partial({ note: t.string }),
]);
const MetaCommon = {
  heads: t.array(t.unknown), headNames: t.array(t.string), backbone: BackboneCodec, trainable: t.array(t.string),
  foldCheck: t.type({ maxAbsDiff: t.number, outputs: t.array(t.string) }),
};
const ArtifactMetaCodec = t.type({ format: t.literal(ARTIFACT_FORMAT), parts: t.array(PartMetaCodec), ...MetaCommon }, 'promptgraph.json');
/** The single-method form written before compositions (read only). */
const ArtifactMetaV1Codec = t.type({ format: t.literal('promptgraph.artifact/1'), method: MethodSpecCodec, ...MetaCommon }, 'promptgraph.json (artifact/1)');

export type ArtifactMeta = t.TypeOf<typeof ArtifactMetaCodec>;
export type PartMeta = t.TypeOf<typeof PartMetaCodec>;

export function decodeMeta(dir: string, json: Record<string, unknown>): ArtifactMeta {
  const what = `${dir}/promptgraph.json`;
  if (json.format === 'promptgraph.artifact/1') {
    const v1 = decodeOrThrow(ArtifactMetaV1Codec, json, what);
    const { method, format: _f, ...rest } = v1;
    const mine = v1.trainable.filter((n) => n.startsWith('prefix.') || n.startsWith('prompt.'));
    return { ...rest, format: ARTIFACT_FORMAT, parts: [{ dir: '.', method, peftType: null, replaces: mine }] };
  }
  if (json.format !== ARTIFACT_FORMAT) throw new ExportError(`${what}: format: expected "${ARTIFACT_FORMAT}", got ${JSON.stringify(json.format)}`);
  const meta = decodeOrThrow(ArtifactMetaCodec, json, what);
  meta.parts.forEach((p, i) => {
    if (p.dir !== '.' && !/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(p.dir)) throw new ExportError(`${what}: parts[${i}].dir: expected "." or a subdirectory name, got ${JSON.stringify(p.dir)}`);
  });
  if (meta.parts.length === 0) throw new ExportError(`${what}: parts: expected at least one part`);
  return meta;
}
