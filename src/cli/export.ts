// `promptgraph export`: folds a trained method into its prompt tensors and writes a
// PEFT-compatible artifact directory. The work is pipelines/export.ts.

import { readSafetensors } from '../models/index.js';
import { exportArtifact, FOLD_TOLERANCE } from '../pipelines/export.js';
import { loadModel } from '../pipelines/model.js';
import { EXIT, UsageError, type Command, type Io } from './command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, methodSpecs, modelSource, stringOption } from './model-args.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'fold a trained prompt method and write a PEFT-compatible artifact directory',
  help: `Usage: promptgraph export (--model DIR | --tiny gpt2|bert) --method SPEC.json
                          --params TRAINED.safetensors --out DIR [--cpu]

Compiles the method with its parameters frozen and the fold pass on (prefix-tuning's MLP
becomes the constant prompt it produces), checks the folded graph's outputs against the
unfolded graph's on a fixed batch (CPU executor, max abs diff <= ${FOLD_TOLERANCE.toExponential(0)}), and writes DIR:
  adapter_config.json          PEFT config (PREFIX_TUNING or PROMPT_TUNING, prefix_projection false)
  adapter_model.safetensors    prompt_embeddings [P, L*2*D] (deep prompts) or [P, D]
  promptgraph.json             method spec, backbone dims and graph hash, heads
  training_state.safetensors   the unfolded trained parameters (to resume training)

Options:
${MODEL_OPTIONS_HELP}
                     (SPEC.json: the method first, then any head specs)
  --params FILE      the trained parameters (e.g. RUN/trained.safetensors)
  --out DIR          the artifact directory (created)
  --cpu              accepted for symmetry: the check always runs on the CPU executor
  -h, --help         show this help

Exit status: 0 written, 1 a file is unreadable, a parameter is missing or the check failed,
64 usage error.`,
  options: { ...MODEL_OPTIONS, params: { type: 'string' }, out: { type: 'string' }, cpu: { type: 'boolean' } },
  positionals: { min: 0, max: 0 },
  async run(args, io: Io) {
    const paramsFile = stringOption(args, 'params'), out = stringOption(args, 'out');
    if (stringOption(args, 'method') === undefined) throw new UsageError('export: --method SPEC.json is required');
    if (paramsFile === undefined) throw new UsageError('export: --params TRAINED.safetensors is required');
    if (out === undefined) throw new UsageError('export: --out DIR is required');
    const source = modelSource('export', args);
    const { specs = [] } = await methodSpecs(args);
    const model = await loadModel(source);
    const params = (await readSafetensors(paramsFile)).tensors;
    const r = await exportArtifact({ model, methodSpec: specs[0], heads: specs.slice(1), params, out });
    io.out([
      `wrote ${out} (${r.files.length} files; prompt_embeddings [${r.prompt.shape.join(', ')}])`,
      `folded vs unfolded outputs: max abs diff ${r.maxAbsDiff.toExponential(3)} (tolerance ${FOLD_TOLERANCE.toExponential(0)}, CPU executor)`,
      ...(r.folded.length ? [`folded: ${r.folded.join(', ')}`] : []),
    ].join('\n'));
    return EXIT.ok;
  },
};
