// `promptgraph pretrain`: builds a bundled tiny backbone from a seed (see pipelines/pretrain.ts).

import { pretrain, PRETRAIN_DEFAULTS } from '../pipelines/pretrain.js';
import { releaseSharedGpu } from '../pipelines/runner.js';
import { EXIT, UsageError, type Command, type Io } from './command.js';
import { progress } from './progress.js';

const NUMERIC = ['seed', 'steps', 'batch', 'seq', 'vocab', 'dim', 'layers', 'heads', 'sentences'] as const;

export const pretrainCommand: Command = {
  name: 'pretrain',
  summary: 'pretrain a tiny GPT-2 or BERT on the synthetic world corpus (reproducible from a seed)',
  help: `Usage: promptgraph pretrain --kind gpt2|bert --out DIR [--seed N] [--steps N] [--lr X]
                            [--batch N] [--seq N] [--vocab N] [--dim N] [--layers N] [--heads N] [--cpu]

Generates the synthetic world (seed), its corpus, a tokenizer (byte-level BPE for GPT-2,
WordPiece for BERT), and trains a randomly initialized model on it (causal LM / masked LM).
Writes a Hugging Face directory: config.json, model.safetensors, tokenizer files, and
pretrain.json (options, device, time, losses). Defaults: ${JSON.stringify({ ...PRETRAIN_DEFAULTS, executor: undefined })}

Exit status: 0 done, 1 failure (bad spec, diverged loss...), 2 no WebGPU adapter, 64 usage error.`,
  options: {
    kind: { type: 'string' }, out: { type: 'string' }, lr: { type: 'string' }, cpu: { type: 'boolean' },
    ...Object.fromEntries(NUMERIC.map((k) => [k, { type: 'string' as const }])),
  },
  positionals: { min: 0, max: 0 },
  async run(args, io: Io) {
    const kind = args.values.kind;
    if (kind !== 'gpt2' && kind !== 'bert') throw new UsageError('pretrain: --kind gpt2|bert is required');
    const out = args.values.out;
    if (typeof out !== 'string') throw new UsageError('pretrain: --out DIR is required');
    const num = (k: string, def: number): number => {
      const v = args.values[k];
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new UsageError(`pretrain: --${k} must be a positive number, got ${String(v)}`);
      return n;
    };
    const d = PRETRAIN_DEFAULTS;
    const bar = progress(`pretrain ${kind}`, (l) => io.err(l));
    try {
      const r = await pretrain({
        kind, out, seed: num('seed', d.seed), steps: num('steps', d.steps), batch: num('batch', d.batch), seq: num('seq', d.seq), lr: num('lr', d.lr),
        vocabSize: num('vocab', d.vocabSize), dim: num('dim', d.dim), layers: num('layers', d.layers), heads: num('heads', d.heads),
        sentences: num('sentences', d.sentences), executor: args.values.cpu ? 'cpu' : 'webgpu',
        onEvent: (e) => {
          if (e.type === 'start') io.err(`pretrain ${kind}: ${e.trainableCount} parameters on ${e.device}`);
          if (e.type === 'step' && e.loss !== null) bar.update(e.step, num('steps', d.steps), `loss ${e.loss.toFixed(4)}  ${e.tokensPerSecond.toFixed(0)} tok/s`);
          if (e.type === 'end') bar.done();
        },
      });
      io.out(`pretrained ${kind} in ${r.seconds.toFixed(0)} s: final loss ${r.losses[r.losses.length - 1]?.toFixed(4)} -> ${out}`);
      return EXIT.ok;
    } finally {
      await releaseSharedGpu();
    }
  },
};
