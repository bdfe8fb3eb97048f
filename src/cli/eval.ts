// `promptgraph eval SPEC.json [--params RUN/trained.safetensors] [--cpu]`: the spec's metrics on
// its eval split, printed as a table and written to RUN/eval.json.

import { writeFile, access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readSpecFile } from '../pipelines/spec.js';
import { evaluateRun, formatMetrics } from '../pipelines/evaluate.js';
import { releaseSharedGpu } from '../pipelines/runner.js';
import { readSafetensors } from '../models/index.js';
import type { ParamStore } from '../ops/index.js';
import { EXIT, type Command, type Io } from './command.js';
import { stringOption } from './model-args.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a trained run on its task\'s eval split (accuracy/macro-F1 or BLEU/ROUGE-L)',
  help: `Usage: promptgraph eval SPEC.json [--params RUN/trained.safetensors] [--cpu]

Evaluates the spec's model and methods with the trained parameters on the task's eval split:
  classification   the compiled forward graph on eval batches: accuracy, macro-F1
  table-to-text    greedy generation (beam search with evaluation.beams > 1): BLEU, ROUGE-L
evaluation.maxExamples limits the examples. Prints the metrics (percent) and writes eval.json
next to the parameters (or into the spec's output dir).

Options:
  --params FILE   trained parameters (default RUN/trained.safetensors when it exists,
                  else the untrained method)
  --cpu           run on the CPU reference executor
  -h, --help      show this help

Exit status: 0 done, 1 failure, 2 no WebGPU adapter, 64 usage error.`,
  options: { params: { type: 'string' }, cpu: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io: Io) {
    const file = args.positionals[0];
    let spec = await readSpecFile(file);
    if (args.values.cpu) spec = { ...spec, executor: 'cpu' };
    const runDir = spec.output?.dir ?? join('runs', spec.name);
    let paramsFile = stringOption(args, 'params');
    if (paramsFile === undefined && (await exists(join(runDir, 'trained.safetensors')))) paramsFile = join(runDir, 'trained.safetensors');
    const trained: ParamStore = paramsFile ? (await readSafetensors(paramsFile)).tensors : new Map();
    if (!paramsFile) io.err(`eval ${spec.name}: no trained parameters (${join(runDir, 'trained.safetensors')}); evaluating the untrained method`);
    try {
      const result = await evaluateRun(spec, trained);
      const outDir = paramsFile ? dirname(paramsFile) : runDir;
      await mkdir(outDir, { recursive: true });
      const path = join(outDir, 'eval.json');
      await writeFile(path, `${JSON.stringify({ spec: spec.name, params: paramsFile ?? null, ...result }, null, 2)}\n`);
      io.out(`${spec.name}: ${result.task}, ${result.examples} eval examples\n${formatMetrics(result)}`);
      for (const s of result.samples ?? []) io.out(`  ${s.source}\n    -> ${s.output}`);
      for (const n of result.notes ?? []) io.out(`  note: ${n}`);
      io.out(`  ${path}`);
      return EXIT.ok;
    } finally {
      await releaseSharedGpu();
    }
  },
};

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
