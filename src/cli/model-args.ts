// Options the model commands share (--model / --tiny, --method, --seed) and their checks:
// mistakes in them are usage errors, problems in the files they name are failures.

import { readMethodSpecs, TINY_MODELS, type ModelSource, type TinyModel } from '../pipelines/model.js';
import { UsageError, type OptionSpecs, type ParsedArgs } from './command.js';

export const MODEL_OPTIONS: OptionSpecs = {
  model: { type: 'string' },
  tiny: { type: 'string' },
  method: { type: 'string' },
  seed: { type: 'string' },
};

/** The help lines for MODEL_OPTIONS, aligned like the other commands' help. */
export const MODEL_OPTIONS_HELP = `  --model DIR        Hugging Face checkpoint directory (config.json + model.safetensors),
                     GPT-2 (GPT2LMHeadModel) or BERT (BertForMaskedLM)
  --tiny gpt2|bert   a built-in tiny model with random weights instead (no files needed)
  --method SPEC.json method spec: one object ({"method": "prefix-tuning", "length": 8, ...})
                     or an array of them, applied in turn
  --seed N           seed of the method parameters' init (default 0)`;

export function modelSource(cmd: string, args: ParsedArgs): ModelSource {
  const dir = stringOption(args, 'model'), tiny = stringOption(args, 'tiny');
  if (dir !== undefined && tiny !== undefined) throw new UsageError(`${cmd}: give --model DIR or --tiny gpt2|bert, not both`);
  if (dir !== undefined) return { kind: 'checkpoint', dir };
  if (tiny === undefined) throw new UsageError(`${cmd}: which model? give --model DIR (a Hugging Face checkpoint) or --tiny gpt2|bert`);
  if (!(TINY_MODELS as readonly string[]).includes(tiny)) throw new UsageError(`${cmd}: --tiny must be one of ${TINY_MODELS.join(', ')}, got '${tiny}'`);
  return { kind: 'tiny', model: tiny as TinyModel };
}

/** The specs of --method, or none. */
export async function methodSpecs(args: ParsedArgs): Promise<{ specs?: unknown[]; specFile?: string }> {
  const file = stringOption(args, 'method');
  return file === undefined ? {} : { specs: await readMethodSpecs(file), specFile: file };
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** An integer option >= `min`, or `fallback` when absent. */
export function intOption(cmd: string, args: ParsedArgs, name: string, fallback: number, min = 1): number {
  const v = stringOption(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${cmd}: --${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}
