// `promptgraph inspect`: a model with a method, compiled as the trainer would compile it, shown
// after any pass with per-node costs, and summarized (parameters, FLOPs by phase, kernels,
// memory), optionally against full fine-tuning. The work is pipelines/inspect.ts.

import { graphToJson, printGraph, toDot } from '../graph/index.js';
import { formatBytes, formatCount, formatSummary, type Report } from '../passes/index.js';
import { INPUT_STAGE, inspectModel, passCatalogue, pipelineOrder, type ModelInspection, type PassInfo } from '../pipelines/inspect.js';
import { loadModel, prepareModel } from '../pipelines/model.js';
import { EXIT, UsageError, type Command, type Io } from './command.js';
import { intOption, MODEL_OPTIONS, MODEL_OPTIONS_HELP, methodSpecs, modelSource, stringOption } from './model-args.js';

const FORMATS = ['text', 'json', 'dot'] as const;
type Format = (typeof FORMATS)[number];

export function formatPassList(passes: readonly PassInfo[] = passCatalogue()): string {
  const width = Math.max(INPUT_STAGE.length, ...passes.map((p) => p.name.length));
  const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : 'nothing');
  return [
    `Passes, in the order a training step runs them: ${pipelineOrder().join(', ')}.`,
    '--after NAME shows the graph after one (after its last run for a pass that runs twice).',
    `  ${INPUT_STAGE.padEnd(width)}  the graph as built, before any pass`,
    ...passes.flatMap((p) => [
      `  ${p.name.padEnd(width)}  ${p.description}`,
      `  ${''.padEnd(width)}  runs: ${p.runs}; requires: ${list(p.requires)}; ensures: ${list(p.ensures)}`,
    ]),
  ].join('\n');
}

function annotation(report: Report): (n: { id: number }) => string {
  const byId = new Map(report.nodes.map((r) => [r.id, r]));
  return (n) => {
    const r = byId.get(n.id)!;
    return `${r.phase} ${formatCount(r.flops)}FLOP ${formatBytes(r.bytes)}`;
  };
}

function headerLines(r: ModelInspection): string[] {
  const p = r.prepared;
  const ran = r.compiled.stages.slice(1).map((s) => s.pass).join(', ');
  return [
    `model: ${p.model.label}, ${p.model.config.kind}, batch ${p.batch} x seq ${p.seq}`,
    `method: ${p.method ? p.method.notes.join('; ') : 'none (the backbone as loaded)'}`,
    `compiled: ${r.train ? 'training step (backward + AdamW)' : 'forward'}; passes: ${ran}`,
    ...r.compiled.notes.map((n) => `  ${n}`),
  ];
}

function comparisonLine(r: ModelInspection): string[] {
  const f = r.fullFt;
  if (!f) return [];
  const ratio = (x: number): string => `${x.toFixed(3)}x`;
  return [
    `vs full fine-tuning (${formatCount(f.summary.trainableParameters)} trainable): step FLOPs ${ratio(f.flopsRatio)} (${formatCount(r.summary.flops.total)} / ${formatCount(f.summary.flops.total)}), ` +
    `peak memory ${ratio(f.peakMemoryRatio)} (${formatBytes(r.summary.peakBytes)} / ${formatBytes(f.summary.peakBytes)})`,
  ];
}

export function formatInspection(r: ModelInspection, opts: { summaryOnly?: boolean } = {}): string {
  const final = r.graph === r.compiled.graph;
  const lines = headerLines(r);
  if (!opts.summaryOnly) {
    lines.push('', `graph after ${r.stage}${final ? ' (final)' : ''}, each node with its phase, FLOPs and bytes:`);
    lines.push(printGraph(r.graph, { annotate: annotation(r.report) }));
  }
  lines.push('', final ? 'summary:' : 'summary of the compiled step (final graph):', formatSummary(r.summary), ...comparisonLine(r));
  return lines.join('\n');
}

export function inspectionJson(r: ModelInspection, opts: { summaryOnly?: boolean } = {}): unknown {
  const p = r.prepared;
  return {
    model: { label: p.model.label, kind: p.model.config.kind, batch: p.batch, seq: p.seq },
    method: p.method ? { trainable: p.method.trainable, notes: p.method.notes } : null,
    train: r.train,
    passes: r.compiled.stages.map((s) => ({ pass: s.pass, changed: s.changed, ms: s.ms })),
    notes: r.compiled.notes,
    summary: r.summary,
    ...(r.fullFt ? { fullFineTuning: r.fullFt } : {}),
    ...(opts.summaryOnly ? {} : { stage: r.stage, graph: graphToJson(r.graph), report: r.report }),
  };
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'compile a model with a method and show any pass\'s graph, costs and a summary (vs full fine-tuning)',
  help: `Usage: promptgraph inspect (--model DIR | --tiny gpt2|bert) [--method SPEC.json]
                           [--batch N] [--seq N] [--train] [--after PASS]
                           [--format text|json|dot] [--summary] [--compare-full-ft]
       promptgraph inspect --list-passes

Builds the backbone for a batch shape, applies the method spec, compiles it as the trainer
would (with --train a training step: freeze, unmark, autodiff, adamw, dce, cse, fold, dce,
fusion) and prints the graph after the requested pass (default: the final graph), each node
annotated with its phase, FLOPs and bytes, parameters marked trainable or frozen; then a
summary of the compiled step: parameters (trainable count and %), step FLOPs by phase
(forward, backward, optimizer), kernels and planned peak memory. Runs on no device.

Options:
${MODEL_OPTIONS_HELP}
  --batch N          batch size (default 2)
  --seq N            sequence length in tokens (default 16)
  --train            compile a training step (backward and AdamW), not just the forward graph
  --after PASS       show the graph after PASS (or 'input', the graph as built); see --list-passes
  --format F         text (default), json (graphToJson plus the inspect report), or dot
  --summary          print only the summary (no graph)
  --compare-full-ft  also compile full fine-tuning of the same backbone and print the step FLOPs
                     and peak memory ratios (method / full fine-tuning); implies --train
  --list-passes      print the compiler's passes with what they do, and exit
  -h, --help         show this help

Exit status: 0 printed, 1 a file is unreadable or malformed or the graph does not compile,
64 usage error.`,
  options: {
    ...MODEL_OPTIONS,
    batch: { type: 'string' },
    seq: { type: 'string' },
    train: { type: 'boolean' },
    after: { type: 'string' },
    format: { type: 'string' },
    summary: { type: 'boolean' },
    'compare-full-ft': { type: 'boolean' },
    'list-passes': { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(args, io: Io) {
    if (args.values['list-passes']) {
      io.out(formatPassList());
      return EXIT.ok;
    }
    const format = (stringOption(args, 'format') ?? 'text') as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`inspect: --format must be one of ${FORMATS.join(', ')}, got '${format}'`);
    const summaryOnly = args.values.summary === true;
    if (format === 'dot' && summaryOnly) throw new UsageError('inspect: --summary has no DOT form; use --format text or json');
    const after = stringOption(args, 'after');
    const names = [INPUT_STAGE, ...passCatalogue().map((p) => p.name)];
    if (after !== undefined && !names.includes(after)) throw new UsageError(`inspect: unknown pass '${after}'; passes: ${names.join(', ')}`);
    const source = modelSource('inspect', args);
    const batch = intOption('inspect', args, 'batch', 2), seq = intOption('inspect', args, 'seq', 16);
    const seed = intOption('inspect', args, 'seed', 0, 0);
    const { specs, specFile } = await methodSpecs(args);
    const prepared = prepareModel(await loadModel(source), { batch, seq, seed, ...(specs ? { specs } : {}), ...(specFile ? { specFile } : {}) });
    const r = inspectModel(prepared, {
      train: args.values.train === true, compareFullFt: args.values['compare-full-ft'] === true, ...(after ? { after } : {}),
    });
    if (format === 'json') io.out(JSON.stringify(inspectionJson(r, { summaryOnly }), null, 2));
    else if (format === 'dot') io.out(toDot(r.graph, { annotate: annotation(r.report) }));
    else io.out(formatInspection(r, { summaryOnly }));
    return EXIT.ok;
  },
};
