// writeWorldDatasets: the bundled world on disk, in the layouts of the real data sets, so the
// no-download main job reads it with the same loaders as downloaded data.
//
//   corpus.txt                              one sentence per line
//   e2e/{trainset,devset,testset_w_refs}.csv  E2E CSV (mr,ref)
//   lama/relations.jsonl                    LAMA relations: {relation, label, template}
//   lama/<Pid>/{train,dev,test}.jsonl       P-tuning's LAMA layout, one fact per line
//   sentiment|topic/{train,val,test}.jsonl  SuperGLUE-style {idx, sentence, label}
//   conll2003/{train,valid,test}.txt        CoNLL-2003 columns
//   world.json, meta.json                   the world itself; label names and statistics

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';
import { LABEL_NAMES } from './classification.js';
import { buildWorldDatasets, type WorldDatasetOptions } from './datasets.js';
import { lamaRow, superGlueRow, toConll, toE2ECsv, toJsonl } from './formats.js';
import { NER_LABELS } from './ner.js';
import { RELATIONS } from './relations.js';
import { worldStats, type WorldStats } from './stats.js';
import { SPLITS, type Split } from './types.js';

export const E2E_FILES: Readonly<Record<Split, string>> = { train: 'trainset.csv', dev: 'devset.csv', test: 'testset_w_refs.csv' };
export const GLUE_FILES: Readonly<Record<Split, string>> = { train: 'train.jsonl', dev: 'val.jsonl', test: 'test.jsonl' };
export const CONLL_FILES: Readonly<Record<Split, string>> = { train: 'train.txt', dev: 'valid.txt', test: 'test.txt' };

export interface WrittenWorld {
  readonly dir: string;
  /** Paths relative to dir. */
  readonly files: readonly string[];
  readonly stats: WorldStats;
}

export async function writeWorldDatasets(dir: string, seed: number, opts: WorldDatasetOptions = {}): Promise<WrittenWorld> {
  const d = buildWorldDatasets(seed, opts);
  const stats = worldStats(d);
  const files = new Map<string, string>();
  files.set('corpus.txt', d.corpus.join('\n') + '\n');
  files.set('lama/relations.jsonl', toJsonl(RELATIONS.map((r) => ({ relation: r.id, label: r.label, template: r.queries[0] }))));
  for (const s of SPLITS) {
    files.set(`e2e/${E2E_FILES[s]}`, toE2ECsv(d.tableToText[s]));
    for (const r of RELATIONS) files.set(`lama/${r.id}/${s}.jsonl`, toJsonl(d.probing[s].filter((p) => p.relation === r.id).map(lamaRow)));
    files.set(`sentiment/${GLUE_FILES[s]}`, toJsonl(d.classification.sentiment[s].map(superGlueRow)));
    files.set(`topic/${GLUE_FILES[s]}`, toJsonl(d.classification.topic[s].map(superGlueRow)));
    files.set(`conll2003/${CONLL_FILES[s]}`, toConll(d.ner[s]));
  }
  files.set('world.json', JSON.stringify(d.world, null, 2) + '\n');
  files.set('meta.json', JSON.stringify({ seed, labels: { ...LABEL_NAMES, ner: NER_LABELS }, stats }, null, 2) + '\n');

  for (const [rel, data] of files) {
    const path = join(dir, rel);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFileAtomic(path, data);
  }
  return { dir, files: [...files.keys()], stats };
}
