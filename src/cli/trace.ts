// `promptgraph trace`: one JSONL batch through a model (with a method), written as safetensors:
// logits, loss, and every trainable parameter with its gradient. The research hook: load the
// file in numpy/torch and compare. The work is pipelines/trace.ts.

import { formatType } from '../graph/index.js';
import { writeSafetensors } from '../models/index.js';
import { CpuExecutor, GpuExecutor } from '../runtime/index.js';
import { loadModel, prepareModel } from '../pipelines/model.js';
import { batchFeeds, checkExamples, readTraceBatch, readTrainableParams, trace, type TraceResult } from '../pipelines/trace.js';
import { EXIT, UsageError, type Command, type Io } from './command.js';
import { withGpu } from './gpu.js';
import { intOption, MODEL_OPTIONS, MODEL_OPTIONS_HELP, methodSpecs, modelSource, stringOption } from './model-args.js';

export const traceCommand: Command = {
  name: 'trace',
  summary: 'run one JSONL batch through a model and method; write logits, loss, parameters and gradients as safetensors',
  help: `Usage: promptgraph trace (--model DIR | --tiny gpt2|bert) --input BATCH.jsonl --out OUT.safetensors
                         [--method SPEC.json] [--params PARAMS.safetensors] [--seed N] [--cpu]

Runs one batch forward (and, with a method and labels, backward) and writes OUT.safetensors:
  logits        f32[batch, seq, vocab]
  loss          f32[] (when any example has labels)
  param/NAME    every trainable parameter of the method, as used
  grad/NAME     the loss gradient of each (when there are labels)

BATCH.jsonl holds one example per line:
  {"input_ids": [...], "attention_mask": [...], "labels": [...]}
token ids; attention_mask and labels are optional, labels of -100 are ignored. GPT-2 computes
the Hugging Face causal-LM loss (position t predicts label t+1, the shift is in the graph).
Examples are padded on the right to the longest (id 0, mask 0, label -100); BERT gets
token_type_ids of zeros. Lines are checked: errors name file:line and the JSON path.

Options:
${MODEL_OPTIONS_HELP}
  --input FILE       the batch, JSONL (required)
  --out FILE         where to write the tensors, safetensors (required)
  --params FILE      values for trainable parameters (safetensors, same names); parameters
                     not in it start from their init (--seed)
  --cpu              run on the CPU reference executor instead of the WebGPU adapter
  -h, --help         show this help

Exit status: 0 written, 1 a file is unreadable or malformed or the run failed,
2 no WebGPU adapter (try --cpu), 64 usage error.`,
  options: {
    ...MODEL_OPTIONS,
    input: { type: 'string' },
    out: { type: 'string' },
    params: { type: 'string' },
    cpu: { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(args, io: Io) {
    const input = stringOption(args, 'input'), out = stringOption(args, 'out');
    if (input === undefined) throw new UsageError('trace: --input BATCH.jsonl is required');
    if (out === undefined) throw new UsageError('trace: --out OUT.safetensors is required');
    const source = modelSource('trace', args);
    const seed = intOption('trace', args, 'seed', 0, 0);
    const { specs, specFile } = await methodSpecs(args);
    const model = await loadModel(source);
    const lines = await readTraceBatch(input);
    checkExamples(lines, model.config);
    const batch = batchFeeds(lines, model.config);
    const prepared = prepareModel(model, { batch: batch.batch, seq: batch.seq, labels: batch.labels, seed, ...(specs ? { specs } : {}), ...(specFile ? { specFile } : {}) });
    const paramsFile = stringOption(args, 'params');
    const trainable = new Map(prepared.graph.params().filter((p) => p.attrs.trainable === true).map((p) => [String(p.attrs.name), p.type] as const));
    const params = paramsFile === undefined ? undefined : await readTrainableParams(paramsFile, trainable);
    const result = args.values.cpu
      ? await trace(prepared, batch, { executor: new CpuExecutor('f32'), ...(params ? { params } : {}) })
      : await withGpu(async (ctx) => trace(prepared, batch, { executor: new GpuExecutor(ctx), target: ctx.target, ...(params ? { params } : {}) }));
    await writeSafetensors(out, result.tensors, { format: 'pt', model: model.label, ...(specFile ? { method: specFile } : {}) });
    io.out(formatTrace(result, out, { executor: args.values.cpu ? 'cpu reference' : 'webgpu', fromFile: params ? [...params.keys()] : [] }));
    return EXIT.ok;
  },
};

function formatTrace(r: TraceResult, out: string, how: { executor: string; fromFile: readonly string[] }): string {
  const names = [...r.tensors.keys()];
  const width = Math.max(...names.map((n) => n.length));
  const loss = r.tensors.get('loss');
  return [
    `wrote ${out} (${names.length} tensors, run on the ${how.executor}${loss ? `, loss ${loss.data[0].toPrecision(6)}` : ''})`,
    ...names.map((n) => `  ${n.padEnd(width)}  ${formatType(r.tensors.get(n)!)}`),
    ...(how.fromFile.length ? [`parameters from --params: ${how.fromFile.join(', ')}`] : []),
    ...r.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
