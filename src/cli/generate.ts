// `promptgraph generate --model DIR --prompt TEXT`: the continuation of a prompt by a GPT-2
// checkpoint, optionally with a trained method (its spec and parameters), greedy, beam or sampled.

import { loadCheckpoint, loadTokenizer, readSafetensors } from '../models/index.js';
import { MethodSpecCodec, type MethodSpec } from '../methods/index.js';
import { readMethodSpecs } from '../pipelines/model.js';
import { generateTexts } from '../pipelines/evaluate.js';
import type { GenerateOptions } from '../pipelines/generate/generate.js';
import { releaseSharedGpu } from '../pipelines/runner.js';
import { decodeOrThrow } from '../util/decode.js';
import { EXIT, UsageError, type Command, type Io, type ParsedArgs } from './command.js';
import { stringOption } from './model-args.js';

export const generateCommand: Command = {
  name: 'generate',
  summary: 'continue a prompt with a GPT-2 checkpoint (and a trained method)',
  help: `Usage: promptgraph generate --model DIR --prompt TEXT [--method SPEC.json --params P.safetensors]
                            [--max-new-tokens N] [--beams K | --sample [--top-k K] [--top-p P] [--seed S]] [--cpu]

Tokenizes the prompt with the checkpoint's tokenizer, generates with the key/value cache on the
WebGPU adapter and prints the decoded continuation. Greedy unless --beams or --sample.

Options:
  --model DIR          GPT-2 checkpoint directory (config.json, model.safetensors, tokenizer files)
  --prompt TEXT        the text to continue
  --method SPEC.json   a method spec ({"method": "prefix-tuning", ...}), a list of them (applied in turn,
                       e.g. prefix-tuning + LoRA), or a run spec (its methods)
  --params FILE        trained parameters (e.g. RUN/trained.safetensors), over the checkpoint's
  --max-new-tokens N   tokens to generate at most (default 20)
  --beams K            beam search with K beams
  --sample             sample (with --top-k K, --top-p P, --seed S; default seed 0)
  --cpu                run on the CPU reference executor
  -h, --help           show this help

Exit status: 0 done, 1 failure, 2 no WebGPU adapter, 64 usage error.`,
  options: {
    model: { type: 'string' }, prompt: { type: 'string' }, method: { type: 'string' }, params: { type: 'string' },
    'max-new-tokens': { type: 'string' }, beams: { type: 'string' }, sample: { type: 'boolean' },
    'top-k': { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' }, cpu: { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(args, io: Io) {
    const dir = stringOption(args, 'model'), prompt = stringOption(args, 'prompt');
    if (dir === undefined) throw new UsageError('generate: give --model DIR (a GPT-2 checkpoint)');
    if (prompt === undefined || prompt === '') throw new UsageError('generate: give --prompt TEXT (not empty)');
    const strategy = strategyOf(args);
    const methodFile = stringOption(args, 'method'), paramsFile = stringOption(args, 'params');
    const methods = methodFile === undefined ? [] : await methodList(methodFile);
    const [ckpt, tok] = await Promise.all([loadCheckpoint(dir), loadTokenizer(dir)]);
    const weights = new Map([...ckpt.tensors, ...(paramsFile ? (await readSafetensors(paramsFile)).tensors : [])]);
    try {
      const [text] = await generateTexts({ config: ckpt.config, weights: ckpt.tensors, tokenizer: tok, dir }, weights, methods, [tok.encode(prompt)],
        args.values.cpu ? 'cpu' : 'webgpu', strategy);
      io.out(text);
      return EXIT.ok;
    } finally {
      await releaseSharedGpu();
    }
  },
};

function strategyOf(args: ParsedArgs): GenerateOptions {
  const num = (name: string, int: boolean, ok: (n: number) => boolean, def?: number): number | undefined => {
    const v = stringOption(args, name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || !ok(n)) throw new UsageError(`generate: --${name} got ${v}, which is out of range`);
    return n;
  };
  const maxNewTokens = num('max-new-tokens', true, (n) => n >= 1, 20)!;
  const beams = num('beams', true, (n) => n >= 1);
  const sampling = ['top-k', 'top-p', 'seed'].filter((k) => args.values[k] !== undefined);
  if (beams !== undefined && args.values.sample) throw new UsageError('generate: give --beams or --sample, not both');
  if (!args.values.sample && sampling.length) throw new UsageError(`generate: --${sampling[0]} needs --sample`);
  if (beams !== undefined) return { strategy: 'beam', beams, maxNewTokens };
  if (!args.values.sample) return { strategy: 'greedy', maxNewTokens };
  const topK = num('top-k', true, (n) => n >= 1), topP = num('top-p', false, (n) => n > 0 && n <= 1);
  return { strategy: 'sample', seed: num('seed', true, () => true, 0)!, maxNewTokens, ...(topK !== undefined ? { topK } : {}), ...(topP !== undefined ? { topP } : {}) };
}

/** The methods of a method spec file (one spec or a list) or a run spec, applied in turn. */
async function methodList(file: string): Promise<MethodSpec[]> {
  let specs = await readMethodSpecs(file);
  const first = specs[0] as Record<string, unknown>;
  if (specs.length === 1 && 'task' in first && 'model' in first) specs = Array.isArray(first.methods) ? first.methods : [];
  if (specs.length === 0) throw new UsageError(`generate: ${file} gives no method`);
  return specs.map((s, i) => decodeOrThrow(MethodSpecCodec, s, specs.length > 1 ? `${file} [${i}]` : file));
}
