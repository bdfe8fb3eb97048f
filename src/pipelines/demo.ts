// The main job (`npm start`): prefix-tuning on the bundled table-to-text task, against a
// manual-prompt baseline (the frozen LM, no training) and full fine-tuning, on the default
// adapter. Each arm is a declarative spec run by the same pipeline; generations are scored with
// BLEU and ROUGE-L against the references.

import { generateWorld, tableToText } from './world/index.js';
import { corpusBleu, rougeL } from './metrics/index.js';
import { specBuilder, type RunSpec } from './spec.js';
import { loadModel, startTraining, type LoadedModel } from './run.js';
import { promptIds } from './tasks/examples.js';
import { generateTexts } from './evaluate.js';
import type { MethodSpec } from '../methods/index.js';
import type { ParamStore } from '../ops/index.js';
import type { TrainEvent } from './train/events.js';

export interface DemoOptions {
  readonly steps: number;
  readonly evalExamples: number;
  readonly executor: 'webgpu' | 'cpu';
  readonly log: (line: string) => void;
  /** A GPT-2 directory to use instead of the bundled one (tests). */
  readonly modelDir?: string;
}

export const DEMO_DEFAULTS = { steps: 400, evalExamples: 40 };

export interface ArmResult {
  readonly name: string;
  readonly bleu: number;
  readonly rougeL: number;
  readonly trainable: number;
  readonly trainablePercent: number;
  /** Parameters kept after training: a reparameterized prefix folds into the prefix itself. */
  readonly kept: number;
  readonly trainSeconds: number;
  readonly finalLoss: number | null;
  readonly sample: string;
}

const SEPARATOR = ' =';

function armSpec(name: string, method: MethodSpec | null, steps: number, lr: number, opts: DemoOptions): RunSpec {
  const b = specBuilder(name)
    .model(opts.modelDir ? { dir: opts.modelDir } : { bundled: 'gpt2-world' })
    .task({ kind: 'table-to-text', train: { format: 'world', split: 'train' }, eval: { format: 'world', split: 'test' }, separator: SEPARATOR })
    .training({ lr, batchSize: 8, maxLength: 80, epochs: 10, maxSteps: steps, seed: 1, logEvery: 25, checkpointEvery: 1000,
      schedule: { kind: 'linear', warmupSteps: Math.round(steps / 10), totalSteps: steps, finalFactor: 0.1 } })
    .output(`runs/demo/${name}`)
    .executor(opts.executor);
  if (method) b.method(method);
  return b.build();
}

export async function runDemo(opts: DemoOptions): Promise<ArmResult[]> {
  const model = await loadModel(opts.modelDir ? { dir: opts.modelDir } : { bundled: 'gpt2-world' });
  const total = [...model.weights.values()].reduce((s, t) => s + t.data.length, 0);
  const records = tableToText(generateWorld(1), { split: 'test' }).slice(0, opts.evalExamples);
  const arms: { name: string; method: MethodSpec | null; lr: number; train: boolean }[] = [
    { name: 'manual prompt (frozen LM)', method: null, lr: 0, train: false },
    { name: 'prefix-tuning', method: { method: 'prefix-tuning', length: 10, reparam: { hidden: 128 } }, lr: 5e-3, train: true },
    // No method: every backbone parameter trains.
    { name: 'full fine-tuning', method: null, lr: 1e-3, train: true },
  ];
  const results: ArmResult[] = [];
  for (const arm of arms) {
    opts.log(`\n== ${arm.name}`);
    let weights: ParamStore = model.weights;
    let trainable = 0, seconds = 0, finalLoss: number | null = null;
    if (arm.train) {
      const spec = armSpec(arm.name.split(' ')[0], arm.method, opts.steps, arm.lr, opts);
      const run = await startTraining(spec, { stepsPerEpoch: opts.steps });
      void (await collect(run.events, (e) => {
        if (e.type === 'start') { trainable = e.trainableCount; opts.log(`training ${e.trainableCount} parameters (${pct(e.trainableCount, total)}) on ${e.device}`); }
        if (e.type === 'step' && e.loss !== null) { finalLoss = e.loss; opts.log(`  step ${e.step}  loss ${e.loss.toFixed(3)}  ${e.tokensPerSecond.toFixed(0)} tok/s`); }
        if (e.type === 'end') seconds = e.elapsedMs / 1000;
      }));
      weights = new Map([...model.weights, ...(await run.runner.runner.readParams(run.prepared.method.trainable))]);
      run.runner.release();
    }
    const generations = await generateAll(model, weights, arm.method ?? undefined, records.map((r) => r.mr), opts.executor);
    const refs = records.map((r) => r.references);
    const bleu = corpusBleu(generations, refs).score;
    const rouge = rougeL(generations, refs).f1;
    opts.log(`  BLEU ${(100 * bleu).toFixed(1)}  ROUGE-L ${(100 * rouge).toFixed(1)}\n  e.g. ${records[0].mr}\n    -> ${generations[0]}`);
    const kept = arm.method?.method === 'prefix-tuning' && arm.method.reparam
      ? Number(arm.method.length) * model.config.layers * 2 * model.config.dim : trainable;
    results.push({ name: arm.name, bleu, rougeL: rouge, trainable, trainablePercent: (100 * trainable) / total, kept, trainSeconds: seconds, finalLoss, sample: generations[0] });
  }
  return results;
}

function generateAll(model: LoadedModel, weights: ParamStore, method: MethodSpec | undefined, mrs: readonly string[], executor: 'webgpu' | 'cpu'): Promise<string[]> {
  return generateTexts(model, weights, method ? [method] : [], mrs.map((mr) => promptIds(model.tokenizer, mr, SEPARATOR)), executor);
}

function collect(events: import('rxjs').Observable<TrainEvent>, on: (e: TrainEvent) => void): Promise<void> {
  return new Promise((resolve, reject) => events.subscribe({ next: on, error: reject, complete: resolve }));
}

function pct(n: number, total: number): string {
  return `${((100 * n) / total).toFixed(2)}% of ${total}`;
}

export function formatResults(rs: readonly ArmResult[]): string {
  const head = ['method', 'BLEU', 'ROUGE-L', 'trained params', 'trained %', 'kept params', 'train time'];
  const rows = rs.map((r) => [r.name, (100 * r.bleu).toFixed(1), (100 * r.rougeL).toFixed(1), String(r.trainable), r.trainablePercent.toFixed(2), String(r.kept), `${r.trainSeconds.toFixed(0)} s`]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
