// Prefix-tuning training step (forward + backward + AdamW) on GPT-2-tiny, batch 8 x 64, prefix 10:
// ours against the same step in TensorFlow.js (webgpu backend, its own Dawn instance on the same
// adapter, same weights) and, if importable, PyTorch on the CPU; plus compiled FLOPs and peak
// memory against full fine-tuning. Prints a table, writes bench/results/<adapter>.json.
//
// Timing, the same for both: WARMUP steps (pipeline compiles, llvmpipe JIT) are excluded; then
// SAMPLES samples of STEPS steps back to back with no host read-back except the loss on the last
// one, and a wait for the queue to drain. ms/step = median sample elapsed / STEPS.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import {
  applySpec, buildBackbone, compile, gradOutput, GpuContext, gpt2TinyConfig, initParams, inspectGraph, optimizerFeeds, Program,
  randomTensor, randomWeights, type Compiled, type HostTensor, type KernelTarget, type ParamStore,
} from '../src/index.js';
import { matmulKernel } from '../src/ops/defs/matmul.js';
import { registerTfGradients, tfPrefixStep } from './tfjs-gpt2.js';

const CONFIG = gpt2TinyConfig({ vocabSize: 1024, dim: 128, heads: 4, inner: 512, layers: 4, positions: 128 });
const BATCH = 8, SEQ = 64, PREFIX = 10;
const SPEC = { method: 'prefix-tuning', length: PREFIX, reparam: null };
const WARMUP = 2, STEPS = 5, SAMPLES = 3, LR = 1e-3;
const GEMM_SIZES = ['256', '512', '1024'] as const;

const GRAD = gradOutput('prefix.embeddings');

interface Timed { msPerStep: number; bestMsPerStep: number; samples: number[]; firstLoss: number; lastLoss: number }

/**
 * WARMUP calls of `step(t, readLoss)`, then SAMPLES samples of STEPS steps each, each ended by
 * `drain` (wait for the device); ms/step is the median sample (other work on the machine is noisy).
 */
async function time(step: (t: number, read: boolean) => Promise<number | null>, drain: () => Promise<void>): Promise<Timed> {
  let firstLoss = NaN, lastLoss = NaN, t = 0;
  for (let i = 0; i < WARMUP; i++) {
    const l = await step(++t, i === 0); // the first loss (before any update) checks agreement
    if (i === 0) firstLoss = l ?? NaN;
  }
  await drain();
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) lastLoss = (await step(++t, i === STEPS - 1)) ?? lastLoss; // loss read on the last only
    await drain();
    samples.push((performance.now() - t0) / STEPS);
  }
  return { msPerStep: [...samples].sort((a, b) => a - b)[Math.floor(SAMPLES / 2)], bestMsPerStep: Math.min(...samples), samples, firstLoss, lastLoss };
}

function batchData(): { ids: HostTensor; labels: HostTensor; mask: HostTensor } {
  const ids = randomTensor([BATCH, SEQ], 7, { dtype: 'i32', low: 0, high: CONFIG.vocabSize });
  const mask: HostTensor = { shape: [BATCH, SEQ], dtype: 'i32', data: new Int32Array(BATCH * SEQ).fill(1) };
  return { ids, labels: ids, mask }; // causal LM: labels are the inputs (the loss shifts them)
}

async function ours(ctx: GpuContext, c: Compiled, params: ParamStore, batch: ReturnType<typeof batchData>): Promise<Timed & { kernels: number; grad: HostTensor }> {
  const program = await Program.create(ctx, c, params);
  try {
    const feeds = { input_ids: batch.ids, attention_mask: batch.mask, labels: batch.labels };
    let grad: HostTensor | undefined;
    const r = await time(async (t, read) => {
      const out = await program.run({ ...feeds, ...optimizerFeeds(t, LR) }, read ? (t === 1 ? ['loss', GRAD] : ['loss']) : []);
      if (t === 1) grad = out.get(GRAD); // the first step's gradient, compared with TF.js's
      return read ? out.get('loss')!.data[0] : null;
    }, () => ctx.sync());
    return { ...r, kernels: program.kernelCount, grad: grad! };
  } finally {
    program.release();
  }
}

// ---- TensorFlow.js on its own Dawn instance (as in bench/matmul.ts) -------------------------------

type Tf = typeof import('@tensorflow/tfjs-core');
interface TfWebGpuInternals { device: GPUDevice; commandEncoder: unknown; endComputePassEncoder(): void; submitQueue(): void }

async function theirs(params: ParamStore, batch: ReturnType<typeof batchData>): Promise<Timed & { grad: Float32Array }> {
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true, writable: true });
  const tf: Tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  await registerTfGradients();
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its webgpu backend');
  await tf.ready();
  const be = tf.backend() as unknown as TfWebGpuInternals;
  const drain = async (): Promise<void> => {
    if (be.commandEncoder) {
      be.endComputePassEncoder();
      be.submitQueue();
    }
    await be.device.queue.onSubmittedWorkDone();
  };
  const model = tfPrefixStep(tf, CONFIG, params, params.get('prefix.embeddings')!, batch, LR);
  try {
    const grad = await model.gradient(); // at the initial values, like our first step's
    return { ...(await time((_t, read) => model.step(read), drain)), grad };
  } finally {
    model.dispose();
    tf.removeBackend('webgpu');
    be.device.destroy();
    delete (globalThis as { navigator?: unknown }).navigator; // drops the Dawn instance so Node can exit
  }
}

// ---- PyTorch (CPU), only if it is already installed ---------------------------------------------

function torchStep(): number | null {
  const script = fileURLToPath(new URL('../../bench/torch_step.py', import.meta.url));
  try {
    execFileSync('python3', ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const args = [script, ...[CONFIG.layers, CONFIG.dim, CONFIG.heads, CONFIG.inner, CONFIG.vocabSize, BATCH, SEQ, PREFIX, WARMUP, STEPS, SAMPLES].map(String)];
  const out = execFileSync('python3', args, { encoding: 'utf8', timeout: 120_000 });
  return Number(JSON.parse(out.trim().split('\n').pop()!).ms_per_step);
}

// ---- compiled cost against full fine-tuning ------------------------------------------------------

function fullFineTuning(weights: ParamStore, target: KernelTarget): { flops: number; peakBytes: number } {
  const g = buildBackbone(CONFIG, { batch: BATCH, seq: SEQ });
  const c = compile(g, { train: true, target, trainable: g.params().map((p) => String(p.attrs.name)), params: new Map(weights) });
  return { flops: inspectGraph(c.graph).summary.flops.total, peakBytes: c.plan.peakBytes };
}

/** GEMM GFLOP/s from bench/results/matmul-<adapter>.json (else any matmul-*.json): our automatic kernel, and TF.js. */
function gemm(target: KernelTarget, slug: string): Record<string, { promptgraph: number; tfjs_webgpu: number } | null> {
  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('matmul-') && f.endsWith('.json')) : [];
  const file = files.find((f) => f === `matmul-${slug}.json`) ?? files[0];
  const points = file ? (JSON.parse(readFileSync(dir + file, 'utf8')) as { points: { size: number; impl: string; kernel: string; median: number }[] }).points : [];
  return Object.fromEntries(GEMM_SIZES.map((s) => {
    const n = Number(s);
    const type = { shape: [n, n], dtype: 'f32' as const };
    const auto = matmulKernel({ inputs: [type, type], output: type, attrs: { transA: false, transB: false }, target }).variant;
    const mine = points.find((p) => p.size === n && p.kernel === auto);
    const tf = points.find((p) => p.size === n && p.impl === 'tfjs');
    return [s, mine && tf ? { promptgraph: mine.median, tfjs_webgpu: tf.median } : null];
  }));
}

// ---- main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const load0 = loadavg();
  const weights = randomWeights(CONFIG, 1);
  const method = applySpec(buildBackbone(CONFIG, { batch: BATCH, seq: SEQ }), SPEC);
  const params = initParams(method.graph, 2, weights); // adds the prefix's random init
  const batch = batchData();

  const ctx = await GpuContext.acquire();
  let mine: Timed & { kernels: number; grad: HostTensor }, adapter: string, target: KernelTarget, c: Compiled;
  try {
    target = ctx.target;
    adapter = ctx.adapter.name || 'adapter';
    c = compile(method.graph, { train: true, trainable: method.trainable, params, target });
    mine = await ours(ctx, c, params, batch);
  } finally {
    ctx.release();
  }
  console.error(`  promptgraph: ${mine.msPerStep.toFixed(1)} ms/step`);
  const tf = await theirs(params, batch);
  console.error(`  tfjs-webgpu: ${tf.msPerStep.toFixed(1)} ms/step`);
  const torch = torchStep();

  const prefixCost = { flops: inspectGraph(c.graph).summary.flops.total, peakBytes: c.plan.peakBytes };
  const full = fullFineTuning(weights, target);
  const load1 = loadavg();

  const tokens = BATCH * SEQ;
  const flopsRatio = prefixCost.flops / full.flops, memRatio = prefixCost.peakBytes / full.peakBytes;
  const speedup = tf.msPerStep / mine.msPerStep;
  const lossDiff = Math.abs(mine.firstLoss - tf.firstLoss);
  let gradDiff = 0, gradMax = 0;
  mine.grad.data.forEach((x: number, i: number) => {
    gradDiff = Math.max(gradDiff, Math.abs(x - tf.grad[i]));
    gradMax = Math.max(gradMax, Math.abs(tf.grad[i]));
  });
  const slug = adapter.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const gemmGflops = gemm(target, slug);
  const f = (x: number, d = 1): string => x.toFixed(d);
  const rows: [string, string, string][] = [
    ['promptgraph (ours)', `${f(mine.msPerStep)} ms`, `${f(tokens / mine.msPerStep * 1000, 0)} tok/s (best ${f(mine.bestMsPerStep)} ms), ${mine.kernels} kernels/step`],
    ['tfjs-webgpu', `${f(tf.msPerStep)} ms`, `${f(tokens / tf.msPerStep * 1000, 0)} tok/s (best ${f(tf.bestMsPerStep)} ms); speedup theirs/ours ${f(speedup, 2)}x (target >= 3x: ${speedup >= 3 ? 'met' : 'not met'})`],
    ['torch-cpu', torch === null ? 'n/a' : `${f(torch)} ms`, torch === null ? 'torch not importable' : `${f(tokens / torch * 1000, 0)} tok/s`],
    ['FLOPs vs full FT', f(flopsRatio, 3), `${(prefixCost.flops / 1e9).toFixed(3)} / ${(full.flops / 1e9).toFixed(3)} GFLOP (target <= 0.7: ${flopsRatio <= 0.7 ? 'met' : 'not met'})`],
    ['peak mem vs full FT', f(memRatio, 3), `${(prefixCost.peakBytes / 2 ** 20).toFixed(2)} / ${(full.peakBytes / 2 ** 20).toFixed(2)} MiB (target <= 0.5: ${memRatio <= 0.5 ? 'met' : 'not met'})`],
  ];
  console.log([
    `prefix-tuning step, GPT-2 L=${CONFIG.layers} d=${CONFIG.dim} heads=${CONFIG.heads} vocab=${CONFIG.vocabSize}, batch ${BATCH} x seq ${SEQ}, prefix ${PREFIX}; adapter: ${adapter}`,
    `${WARMUP} warm-up steps, median of ${SAMPLES} samples of ${STEPS} steps; load average (1/5/15 min) before ${load0.map((x) => f(x, 2)).join('/')}, after ${load1.map((x) => f(x, 2)).join('/')} on ${cpus().length} CPUs`,
    ...rows.map(([a, b, c2]) => `${a.padEnd(22)}${b.padEnd(12)}${c2}`),
    `first-step loss: ours ${mine.firstLoss.toPrecision(9)}, TF.js ${tf.firstLoss.toPrecision(9)}, |diff| ${lossDiff.toExponential(2)}; last step: ours ${mine.lastLoss.toPrecision(9)}, TF.js ${tf.lastLoss.toPrecision(9)}`,
    `first-step prefix gradient: max |ours - TF.js| ${gradDiff.toExponential(2)} (max |grad| ${gradMax.toExponential(2)})`,
    `GEMM GFLOP/s (from matmul results, ours auto / TF.js): ${GEMM_SIZES.map((s) => `${s}: ${gemmGflops[s] ? `${f(gemmGflops[s]!.promptgraph, 2)} / ${f(gemmGflops[s]!.tfjs_webgpu, 2)}` : 'n/a'}`).join(', ')}`,
  ].join('\n'));

  const dir = new URL('../../bench/results/', import.meta.url); // dist/bench/ -> bench/results/
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${slug}.json`, dir);
  writeFileSync(file, JSON.stringify({
    date: new Date().toISOString(), adapter, method: SPEC,
    config: { layers: CONFIG.layers, dim: CONFIG.dim, heads: CONFIG.heads, inner: CONFIG.inner, vocab: CONFIG.vocabSize, positions: CONFIG.positions, batch: BATCH, seq: SEQ, prefix: PREFIX, warmup: WARMUP, steps: STEPS, lr: LR },
    step_ms: { promptgraph: mine.msPerStep, tfjs_webgpu: tf.msPerStep, torch_cpu: torch },
    step_ms_samples: { promptgraph: mine.samples, tfjs_webgpu: tf.samples },
    tokens_per_s: { promptgraph: (tokens / mine.msPerStep) * 1000, tfjs_webgpu: (tokens / tf.msPerStep) * 1000, torch_cpu: torch === null ? null : (tokens / torch) * 1000 },
    speedup_vs_tfjs: speedup,
    first_step_loss: { promptgraph: mine.firstLoss, tfjs_webgpu: tf.firstLoss, abs_diff: lossDiff },
    last_step_loss: { promptgraph: mine.lastLoss, tfjs_webgpu: tf.lastLoss },
    first_step_prefix_grad: { max_abs_diff: gradDiff, max_abs: gradMax },
    gemm_gflops: gemmGflops,
    step_flops: { prefix_tuning: prefixCost.flops, full_ft: full.flops },
    peak_bytes: { prefix_tuning: prefixCost.peakBytes, full_ft: full.peakBytes },
    step_flops_ratio_vs_full_ft: flopsRatio,
    peak_memory_ratio_vs_full_ft: memRatio,
    targets: { speedup_vs_tfjs_ge_3: speedup >= 3, flops_ratio_le_0_7: flopsRatio <= 0.7, peak_memory_ratio_le_0_5: memRatio <= 0.5 },
    load_average: { before: load0, after: load1 }, cpus: cpus().length,
  }, null, 2) + '\n');
  console.log(`wrote ${fileURLToPath(file)}`);
}

await main();
// Both Dawn instances are released above; a stray reference in a dependency must not hang the run.
setTimeout(() => process.exit(0), 5000).unref();
