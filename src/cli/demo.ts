// `promptgraph demo` (what `npm start` runs): prefix-tuning on the bundled table-to-text task,
// against a manual prompt on the frozen LM and full fine-tuning; prints a results table.

import { DEMO_DEFAULTS, formatResults, runDemo } from '../pipelines/demo.js';
import { releaseSharedGpu } from '../pipelines/runner.js';
import { EXIT, UsageError, type Command, type Io } from './command.js';

export const demo: Command = {
  name: 'demo',
  summary: 'the main job: prefix-tuning on the bundled table-to-text task vs a manual prompt and full fine-tuning',
  help: `Usage: promptgraph demo [--steps N] [--eval N] [--cpu]

Uses the bundled tiny GPT-2 (models/gpt2-world, pretrained by 'promptgraph pretrain') and the
synthetic world's table-to-text task (E2E-style meaning representations -> sentences):
  1. manual prompt: the frozen LM continues "MR =" with no training,
  2. prefix-tuning: 5 key/value positions per layer trained, the LM frozen,
  3. full fine-tuning: every parameter trained,
each trained for the same number of steps on the default WebGPU adapter, then evaluated by
greedy generation on held-out restaurants (BLEU, ROUGE-L). Runs are written under runs/demo/.

Options:
  --steps N   training steps per trained method (default ${DEMO_DEFAULTS.steps})
  --eval N    test examples generated and scored (default ${DEMO_DEFAULTS.evalExamples})
  --cpu       run on the CPU reference executor (slow)
  -h, --help  show this help

Exit status: 0 done, 1 failure, 2 no WebGPU adapter (install help is printed).`,
  options: { steps: { type: 'string' }, eval: { type: 'string' }, cpu: { type: 'boolean' } },
  positionals: { min: 0, max: 0 },
  async run(args, io: Io) {
    const int = (k: 'steps' | 'eval', def: number): number => {
      const v = args.values[k];
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`demo: --${k} must be a positive integer, got ${String(v)}`);
      return n;
    };
    const t0 = performance.now();
    try {
      const results = await runDemo({ steps: int('steps', DEMO_DEFAULTS.steps), evalExamples: int('eval', DEMO_DEFAULTS.evalExamples), executor: args.values.cpu ? 'cpu' : 'webgpu', log: (l) => io.err(l) });
      io.out(`\nTable-to-text on the synthetic world (test split), ${int('steps', DEMO_DEFAULTS.steps)} steps per trained method:\n`);
      io.out(formatResults(results));
      io.out(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      return EXIT.ok;
    } finally {
      await releaseSharedGpu();
    }
  },
};
