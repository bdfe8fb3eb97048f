// `promptgraph export`: folds trained methods into their tensors and writes a PEFT-compatible
// artifact directory (one sub-artifact per method of a composition). The work is pipelines/export.ts.

import { relative } from 'node:path';
import { readSafetensors } from '../models/index.js';
import { exportArtifact, FOLD_TOLERANCE, type ExportedPart } from '../pipelines/export.js';
import { loadModel } from '../pipelines/model.js';
import { EXIT, UsageError, type Command, type Io } from './command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, methodSpecs, modelSource, stringOption } from './model-args.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'fold trained prompt methods and write a PEFT-compatible artifact directory',
  help: `Usage: promptgraph export (--model DIR | --tiny gpt2|bert) --method SPEC.json
                          --params TRAINED.safetensors --out DIR [--cpu]

Compiles the methods with their parameters frozen and the fold pass on (prefix-tuning's MLP and
p-tuning's LSTM/MLP prompt encoder become the constant prompts they produce), checks the folded
graph's outputs against the unfolded graph's on a fixed batch (CPU executor, max abs diff
<= ${FOLD_TOLERANCE.toExponential(0)}), and writes DIR. One method: DIR is the artifact. Several (e.g. prefix-tuning and
lora): DIR/<i>-<method>/ is each method's sub-artifact. A sub-artifact holds
  adapter_config.json          PEFT config (inference mode): PREFIX_TUNING, PROMPT_TUNING,
                               P_TUNING or LORA; not written where PEFT has no layout (a deep
                               prompt on a subset of layers, or with unshifted positions)
  adapter_model.safetensors    prompt_embeddings [P, L*2*D] (deep prompts; Lsel layers for a
                               subset) or [P, D] (prompt tuning, p-tuning), or LoRA factors
                               with PEFT's names
and DIR also holds
  promptgraph.json             the parts (directory, spec, PEFT type, notes), heads, backbone dims
                               and graph hash: what loads it back (including p-tuning's template)
  training_state.safetensors   the unfolded trained parameters (to resume training)
PEFT prepends p-tuning's virtual tokens: it reproduces only templates that put them all first.

Options:
${MODEL_OPTIONS_HELP}
                     (SPEC.json: the methods in order, then any head specs; a run spec's
                     {"methods": [...]} is read too)
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
    const r = await exportArtifact({ model, methodSpecs: runSpecMethods(specs), params, out });
    io.out([
      `wrote ${out} (${r.files.length} files, ${r.parts.length} ${r.parts.length === 1 ? 'method' : 'sub-artifacts'})`,
      ...r.parts.map((p) => partLine(out, p)),
      `folded vs unfolded outputs: max abs diff ${r.maxAbsDiff.toExponential(3)} (tolerance ${FOLD_TOLERANCE.toExponential(0)}, CPU executor)`,
      ...(r.folded.length ? [`folded: ${r.folded.join(', ')}`] : []),
    ].join('\n'));
    return EXIT.ok;
  },
};

/** A run spec file ({"name": ..., "methods": [...]}) gives its methods; method specs are themselves. */
function runSpecMethods(specs: unknown[]): unknown[] {
  const only = specs.length === 1 ? (specs[0] as Record<string, unknown>) : undefined;
  if (only && !('method' in only) && Array.isArray(only.methods)) {
    if (only.methods.length === 0) throw new UsageError('export: the spec file lists no methods ("methods": [])');
    return only.methods as unknown[];
  }
  return specs;
}

function partLine(out: string, p: ExportedPart): string {
  const dir = relative(out, p.dir);
  const tensors = [...p.tensors].map(([k, v]) => `${k} [${v.shape.join(', ')}]`);
  const shown = tensors.length > 2 ? `${tensors.slice(0, 2).join(', ')}, ... (${tensors.length} tensors)` : tensors.join(', ');
  return `  ${dir ? `${dir}/` : './'}: ${p.method} -> ${p.peftType ?? 'not PEFT-loadable'}: ${shown}${p.note ? `\n    note: ${p.note}` : ''}`;
}
