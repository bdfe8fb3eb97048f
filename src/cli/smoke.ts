// `promptgraph smoke`: a small model graph run on WebGPU and on the CPU reference, with both
// results and their difference printed: a quick end-to-end check of an installation.

import { formatType, printGraph, validate, type Graph } from '../graph/index.js';
import { GraphBuilder, hasOp, hostTensor, opSchemas, randomTensor, type HostTensor, type Ref } from '../ops/index.js';
import { CpuExecutor, initParams, type Feeds } from '../runtime/index.js';
import { EXIT, type Command, type Io } from './command.js';
import { compareTensors, formatError, formatShare, formatTolerance } from './compare.js';
import { formatChecks } from './doctor.js';
import { withGpu } from './gpu.js';
import { allAgree, runSelfCheck, summarize } from './self-check.js';

export interface DemoModel {
  readonly title: string;
  readonly graph: Graph;
  readonly feeds: Feeds;
}

const BATCH = 4, FEATURES = 8, HIDDEN = 16, CLASSES = 3;

/** A 2-layer MLP (matmul, add, gelu) with a cross-entropy loss when those ops are registered. */
export function mlpModel(): DemoModel | undefined {
  if (!['matmul', 'add', 'gelu'].every(hasOp)) return undefined;
  const b = new GraphBuilder();
  const x = b.input('x', [BATCH, FEATURES]);
  const layer = (name: string, h: Ref, n: number, act?: (r: Ref) => Ref): Ref => b.within(name, () => {
    const w = b.param(`${name}.weight`, [h.type.shape[1], n], { trainable: true, init: 'normal:0.5' });
    const bias = b.param(`${name}.bias`, [n], { trainable: true, init: 'normal:0.1' });
    const y = b.add(b.matmul(h, w), bias);
    return act ? act(y) : y;
  });
  const hidden = layer('fc1', x, HIDDEN, (y) => b.gelu(y));
  const logits = layer('fc2', hidden, CLASSES);
  b.output('logits', logits);
  const feeds: Record<string, HostTensor> = { x: randomTensor([BATCH, FEATURES], 1) };
  let title = '2-layer MLP (forward only)';
  if (hasOp('softmax')) b.output('probs', b.softmax(logits));
  if (hasOp('cross_entropy')) {
    const labels = b.input('labels', [BATCH], 'i32');
    b.output('loss', b.within('loss', () => b.crossEntropy(logits, labels)));
    feeds.labels = hostTensor([BATCH], 'i32', [0, 2, 1, 1]);
    title = '2-layer MLP with a softmax cross-entropy loss (forward only)';
  }
  return { title, graph: b.graph, feeds };
}

/** Used while matmul is not registered: y = exp(0.5 * gelu(x * w + b)), broadcasting w and b. */
export function elementwiseModel(): DemoModel {
  const b = new GraphBuilder();
  const x = b.input('x', [BATCH, FEATURES]);
  const w = b.param('w', [FEATURES], { trainable: true, init: 'normal:1' });
  const bias = b.param('b', [1, FEATURES], { trainable: true, init: 'normal:0.1' });
  const h = b.within('act', () => b.gelu(b.add(b.mul(x, w), bias)));
  b.output('y', b.exp(b.scale(h, 0.5)));
  return { title: 'element-wise graph (matmul is not registered yet)', graph: b.graph, feeds: { x: randomTensor([BATCH, FEATURES], 1) } };
}

function preview(t: HostTensor, count = 6): string {
  const vals = Array.from(t.data.slice(0, count), (v) => (t.dtype === 'i32' ? String(v) : v.toPrecision(6)));
  return `${formatType(t)} [${vals.join(', ')}${t.data.length > count ? ', ...' : ''}]`;
}

export const smoke: Command = {
  name: 'smoke',
  summary: 'run a small model graph on WebGPU and on the CPU reference and compare',
  help: `Usage: promptgraph smoke

A quick end-to-end check of an installation (the training demo is \`promptgraph demo\`):
  1. runs doctor's self-check quietly (one line; details only if a check fails),
  2. builds a small 2-layer MLP with a softmax cross-entropy loss (or, while matmul is not
     registered, a small element-wise graph) and prints it,
  3. runs it on WebGPU and on the CPU reference executor and prints both results and their
     largest difference.

Options:
  -h, --help  show this help

Exit status: 0 results agree, 1 they disagree or a check failed, 2 no WebGPU adapter.`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(_args, io: Io) {
    io.out('promptgraph smoke: a small graph forward on WebGPU and on the CPU reference, compared\n');
    return withGpu(async (ctx, runtime) => {
      const gpu = await runtime.executor();
      const checks = await runSelfCheck(gpu);
      io.out(`self-check on ${ctx.adapter.description || ctx.adapter.name}: ${summarize(checks)}`);
      if (!allAgree(checks)) {
        io.out(formatChecks(checks).join('\n'));
        return EXIT.failure;
      }
      const model = mlpModel() ?? elementwiseModel();
      validate(model.graph, opSchemas);
      const params = initParams(model.graph, 0);
      io.out(`\n${model.title}:\n${printGraph(model.graph)}\n`);
      io.out(`inputs: ${Object.entries(model.feeds).map(([k, v]) => `${k} ${preview(v, 4)}`).join('; ')}`);
      io.out(`parameters: ${params.size} tensors from each param's init attribute (seed 0)\n`);
      const cpuOut = await new CpuExecutor('f32').run(model.graph, model.feeds, params);
      const gpuOut = await gpu.run(model.graph, model.feeds, params);
      let ok = true;
      for (const [name, cpu] of cpuOut) {
        const dev = gpuOut.get(name)!;
        const c = compareTensors(dev, cpu);
        ok &&= c.ok;
        io.out(`${name}`);
        io.out(`  webgpu         ${preview(dev)}`);
        io.out(`  cpu reference  ${preview(cpu)}`);
        io.out(`  max abs diff ${formatError(c.maxAbsError)}, worst element used ${formatShare(c.toleranceUsed)} of the tolerance${c.ok ? '' : `  DISAGREE: ${c.problem}`}`);
      }
      io.out(ok
        ? `\nOK: WebGPU and the CPU reference agree (${formatTolerance()} for every element).`
        : '\nFAILED: WebGPU and the CPU reference disagree.');
      return ok ? EXIT.ok : EXIT.failure;
    });
  },
};
