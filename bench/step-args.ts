// Command-line options of bench/step.ts: which model shape, which peers, autotuning, where results go.

import { gpt2TinyConfig, type Gpt2Config } from '../src/index.js';

export const BENCH_CONFIGS = {
  /** The GPT-2-tiny shape. */
  tiny: gpt2TinyConfig({ vocabSize: 1024, dim: 128, heads: 4, inner: 512, layers: 4, positions: 128 }),
  /** GPT-2 small (124M) with random weights; the shard pass splits the 50257x768 embedding. */
  'gpt2-small': gpt2TinyConfig({ vocabSize: 50257, dim: 768, heads: 12, inner: 3072, layers: 12, positions: 1024 }),
} satisfies Record<string, Gpt2Config>;
export type BenchConfig = keyof typeof BENCH_CONFIGS;

export interface StepArgs {
  readonly config: BenchConfig;
  /** Also time the step with autotuned matmul kernels (choices cached per adapter). */
  readonly autotune: boolean;
  /** Run the TF.js-webgpu peer (default: on for tiny, off for gpt2-small). */
  readonly tfjs: boolean;
  /** Device of the PyTorch peer ('cpu', 'cuda', ...), or null for none. */
  readonly torchDevice: string | null;
  /** Results folder (default bench/results/). */
  readonly out: string | null;
  /** Also time the step without attention fusion and with f16 storage of frozen weights. */
  readonly ablations: boolean;
}

export const STEP_USAGE = `usage: node dist/bench/step.js [--config tiny|gpt2-small] [--autotune] [--tfjs|--no-tfjs] [--torch-device cpu|cuda|none] [--out DIR] [--ablations]
  env PROMPTGRAPH_ADAPTER / PROMPTGRAPH_BACKEND pick the Dawn adapter; PROMPTGRAPH_PYTHON the python with torch`;

export function parseStepArgs(argv: readonly string[]): StepArgs {
  let config: BenchConfig = 'tiny', autotune = false, ablations = false, tfjs: boolean | undefined, torchDevice: string | null = 'cpu', out: string | null = null;
  const value = (i: number, flag: string, form: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value: ${form}\n${STEP_USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config') {
      const v = value(i++, a, Object.keys(BENCH_CONFIGS).join(' or '));
      if (!(v in BENCH_CONFIGS)) throw new Error(`--config: expected ${Object.keys(BENCH_CONFIGS).join(' or ')}, got '${v}'`);
      config = v as BenchConfig;
    } else if (a === '--autotune') autotune = true;
    else if (a === '--ablations') ablations = true;
    else if (a === '--tfjs') tfjs = true;
    else if (a === '--no-tfjs') tfjs = false;
    else if (a === '--torch-device') {
      const v = value(i++, a, "a torch device ('cpu', 'cuda', 'cuda:1') or 'none'");
      if (!/^(cpu|cuda(:\d+)?|none)$/.test(v)) throw new Error(`--torch-device: expected cpu, cuda, cuda:N or none, got '${v}'`);
      torchDevice = v === 'none' ? null : v;
    } else if (a === '--out') out = value(i++, a, 'a folder');
    else throw new Error(`unknown argument '${a}'\n${STEP_USAGE}`);
  }
  return { config, autotune, tfjs: tfjs ?? config === 'tiny', torchDevice, out, ablations };
}
