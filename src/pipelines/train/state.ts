// Training checkpoints: trainable parameters and optimizer state in a safetensors file, and a
// small JSON that points at it (step, epoch, data position, what was trained). The safetensors
// file is written first under a new name; `latest.json` is then replaced atomically, so a kill -9
// at any moment leaves the previous checkpoint loadable, and at most the steps since it are lost.

import * as t from 'io-ts';
import { mkdir, readdir, rm, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeOrThrow } from '../../util/decode.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { readSafetensors, writeSafetensors } from '../../models/safetensors.js';
import type { ParamStore } from '../../ops/host.js';
import { DataPositionCodec, type DataPosition } from '../data/index.js';

export const LATEST = 'latest.json';

export const TrainingStateCodec = t.type({
  format: t.literal('promptgraph.training-state/1'),
  step: t.number,
  epoch: t.number,
  data: DataPositionCodec,
  weights: t.string,
  /** Fingerprint of the run's spec: resuming under a different spec is refused. */
  specHash: t.string,
  lastLoss: t.union([t.number, t.null]),
}, 'training state');
export type TrainingStateJson = t.TypeOf<typeof TrainingStateCodec>;

export interface TrainingState {
  readonly step: number;
  readonly epoch: number;
  readonly data: DataPosition;
  readonly specHash: string;
  readonly lastLoss: number | null;
  readonly params: ParamStore;
}

export async function saveTrainingState(dir: string, s: TrainingState, keep = 2): Promise<string> {
  await mkdir(dir, { recursive: true });
  const weights = `state-${String(s.step).padStart(8, '0')}.safetensors`;
  await writeSafetensors(join(dir, weights), s.params, { step: String(s.step) });
  const json: TrainingStateJson = {
    format: 'promptgraph.training-state/1', step: s.step, epoch: s.epoch, data: s.data, weights, specHash: s.specHash, lastLoss: s.lastLoss,
  };
  await writeJsonAtomic(join(dir, LATEST), json);
  // Older states (and any half-written one from a crash) are no longer referenced.
  const states = (await readdir(dir)).filter((f) => /^state-\d+\.safetensors$/.test(f)).sort();
  for (const f of states.slice(0, Math.max(0, states.length - keep))) if (f !== weights) await rm(join(dir, f), { force: true });
  return join(dir, weights);
}

/** The latest checkpoint in `dir`, or null when there is none. */
export async function loadTrainingState(dir: string): Promise<TrainingState | null> {
  let text: string;
  try {
    text = await readFile(join(dir, LATEST), 'utf8');
  } catch {
    return null;
  }
  const json = decodeOrThrow(TrainingStateCodec, JSON.parse(text), join(dir, LATEST));
  const { tensors } = await readSafetensors(join(dir, json.weights));
  return { step: json.step, epoch: json.epoch, data: json.data, specHash: json.specHash, lastLoss: json.lastLoss, params: tensors };
}
