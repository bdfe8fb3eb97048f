// Prefix-tuning training step (forward + backward + AdamW) on GPT-2-tiny (or --config gpt2-small),
// batch 8 x 64, prefix 10: ours (and with --autotune, ours with autotuned matmuls) against the same
// step in TensorFlow.js (webgpu backend, its own Dawn instance on the same adapter, same weights)
// and, if importable, PyTorch (bench/torch_step.py, --torch-device cpu|cuda, same weights and
// batch); plus compiled FLOPs and peak memory against full fine-tuning. Prints a table, writes
// bench/results/<adapter>[-<config>].json (or under --out). Options: bench/step-args.ts.
//
// Timing, the same for both: WARMUP steps (pipeline compiles, llvmpipe JIT) are excluded; then
// SAMPLES samples of STEPS steps back to back with no host read-back except the loss on the last
// one, and a wait for the queue to drain. ms/step = median sample elapsed / STEPS.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { create, globals } from 'webgpu';
import {
  applySpec, autotuneCompiled, buildBackbone, compile, gradOutput, GpuContext, initParams, inspectGraph, optimizerFeeds, Program,
  randomTensor, randomWeights, writeSafetensors, type AutotuneResult, type Compiled, type CompileOptions, type HostTensor, type KernelTarget, type ParamStore,
} from '../src/index.js';
import { matmulKernel } from '../src/ops/defs/matmul.js';
import { registerTfGradients, tfPrefixStep } from './tfjs-gpt2.js';
import { BENCH_CONFIGS, parseStepArgs, STEP_USAGE } from './step-args.js';

if (process.argv.includes('--help')) {
  console.log(STEP_USAGE);
  process.exit(0);
}
const ARGS = ((): ReturnType<typeof parseStepArgs> => {
  try {
    return parseStepArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
})();
const CONFIG = BENCH_CONFIGS[ARGS.config];
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
  const program = await Program.create(ctx, c, params, { autotune: false }); // c carries any tuned kernels
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

// ---- PyTorch, only if it is already installed ------------------------------------------------------

interface TorchResult { msPerStep: number; firstLoss: number; lastLoss: number; device: string; impl: string; threads: number }

/** The python that imports torch: $PROMPTGRAPH_PYTHON, else python3, else Debian's /usr/bin/python3 (pyenv shims hide it). */
function torchPython(): string | null {
  const candidates = process.env.PROMPTGRAPH_PYTHON ? [process.env.PROMPTGRAPH_PYTHON] : ['python3', '/usr/bin/python3'];
  for (const py of candidates) {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      return py;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * The same step in PyTorch on `device`, fed the same weights, prefix and batch through a
 * safetensors file; null if no python imports torch. Timed inside Python.
 */
async function torchStep(device: string, weights: ParamStore, prefix: HostTensor, ids: HostTensor): Promise<TorchResult | null> {
  const py = torchPython();
  if (!py) return null;
  const script = fileURLToPath(new URL('../../bench/torch_step.py', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'pg-bench-torch-'));
  try {
    const file = join(dir, 'inputs.safetensors');
    const config = { layers: CONFIG.layers, dim: CONFIG.dim, heads: CONFIG.heads, inner: CONFIG.inner, vocab: CONFIG.vocabSize, positions: CONFIG.positions, eps: CONFIG.eps, batch: BATCH, seq: SEQ, prefix: PREFIX };
    await writeSafetensors(file, new Map([...weights, ['prefix.embeddings', prefix], ['input_ids', ids]]), { config: JSON.stringify(config) });
    const args = [script, '--weights', file, '--device', device, '--warmup', String(WARMUP), '--steps', String(STEPS), '--samples', String(SAMPLES), '--lr', String(LR)];
    const out = execFileSync(py, args, { encoding: 'utf8', timeout: 900_000, stdio: ['ignore', 'pipe', 'inherit'] });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { ms_per_step: number; first_loss: number; last_loss: number; device: string; impl: string; threads: number };
    return { msPerStep: r.ms_per_step, firstLoss: r.first_loss, lastLoss: r.last_loss, device: r.device, impl: r.impl, threads: r.threads };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
  let tuned: (Timed & { kernels: number; tuneMs: number; result: AutotuneResult }) | null = null;
  const ablations: { name: string; msPerStep: number; kernels: number; peakBytes: number; firstLoss: number }[] = [];
  try {
    target = ctx.target;
    adapter = ctx.adapter.name || 'adapter';
    c = compile(method.graph, { train: true, trainable: method.trainable, params, target });
    mine = await ours(ctx, c, params, batch);
    console.error(`  promptgraph: ${mine.msPerStep.toFixed(1)} ms/step`);
    if (ARGS.ablations) {
      // The same step compiled two other ways, timed on the same device in this run.
      const variants: [string, CompileOptions][] = [['unfused_attention', { fuseAttention: false }], ...(target.f16 ? [['frozen_f16', { frozenStorage: 'f16' }] as [string, CompileOptions]] : [])];
      for (const [name, extra] of variants) {
        const cv = compile(method.graph, { train: true, trainable: method.trainable, params, target, ...extra });
        const t = await ours(ctx, cv, params, batch);
        ablations.push({ name, msPerStep: t.msPerStep, kernels: t.kernels, peakBytes: cv.plan.peakBytes, firstLoss: t.firstLoss });
        console.error(`  promptgraph ${name}: ${t.msPerStep.toFixed(1)} ms/step`);
      }
    }
    if (ARGS.autotune) {
      const t0 = performance.now();
      const { compiled, result } = await autotuneCompiled(ctx, c); // per-adapter cache under ~/.cache/promptgraph or $PROMPTGRAPH_CACHE_DIR
      const tuneMs = performance.now() - t0;
      tuned = { ...(await ours(ctx, compiled, params, batch)), tuneMs, result };
      console.error(`  promptgraph autotuned: ${tuned.msPerStep.toFixed(1)} ms/step (${result.timed} problems timed, ${result.fromCache} from ${result.cacheFile ?? 'no cache'}, ${(tuneMs / 1000).toFixed(1)} s)`);
    }
  } finally {
    ctx.release();
  }
  const tf = ARGS.tfjs ? await theirs(params, batch) : null;
  if (tf) console.error(`  tfjs-webgpu: ${tf.msPerStep.toFixed(1)} ms/step`);
  const torch = ARGS.torchDevice ? await torchStep(ARGS.torchDevice, weights, params.get('prefix.embeddings')!, batch.ids) : null;
  if (torch) console.error(`  torch (${torch.device}): ${torch.msPerStep.toFixed(1)} ms/step`);
  const torchKey = ARGS.torchDevice?.startsWith('cuda') ? 'torch_cuda' : 'torch_cpu';

  const prefixCost = { flops: inspectGraph(c.graph).summary.flops.total, peakBytes: c.plan.peakBytes };
  const full = fullFineTuning(weights, target);
  const load1 = loadavg();

  const tokens = BATCH * SEQ;
  const flopsRatio = prefixCost.flops / full.flops, memRatio = prefixCost.peakBytes / full.peakBytes;
  const speedup = tf ? tf.msPerStep / mine.msPerStep : null;
  const lossDiff = tf ? Math.abs(mine.firstLoss - tf.firstLoss) : null;
  const torchLossDiff = torch ? Math.abs(mine.firstLoss - torch.firstLoss) : null;
  let gradDiff = 0, gradMax = 0;
  if (tf) {
    mine.grad.data.forEach((x: number, i: number) => {
      gradDiff = Math.max(gradDiff, Math.abs(x - tf.grad[i]));
      gradMax = Math.max(gradMax, Math.abs(tf.grad[i]));
    });
  }
  const slug = adapter.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const gemmGflops = gemm(target, slug);
  const f = (x: number, d = 1): string => x.toFixed(d);
  const tps = (ms: number): number => (tokens / ms) * 1000;
  const rows: [string, string, string][] = [
    ['promptgraph (ours)', `${f(mine.msPerStep)} ms`, `${f(tps(mine.msPerStep), 0)} tok/s (best ${f(mine.bestMsPerStep)} ms), ${mine.kernels} kernels/step`],
    ...(tuned ? [['ours, autotuned', `${f(tuned.msPerStep)} ms`, `${f(tps(tuned.msPerStep), 0)} tok/s (best ${f(tuned.bestMsPerStep)} ms); untuned/tuned ${f(mine.msPerStep / tuned.msPerStep, 2)}x; tuning ${f(tuned.tuneMs / 1000)} s, ${tuned.result.timed} problems timed, ${tuned.result.fromCache} cached`] as [string, string, string]] : []),
    ...ablations.map((a): [string, string, string] => [`ours, ${a.name.replace('_', ' ')}`, `${f(a.msPerStep)} ms`, `${a.kernels} kernels/step, peak ${(a.peakBytes / 2 ** 20).toFixed(2)} MiB, first loss ${a.firstLoss.toPrecision(9)}; this/ours ${f(a.msPerStep / mine.msPerStep, 2)}x`]),
    tf
      ? ['tfjs-webgpu', `${f(tf.msPerStep)} ms`, `${f(tps(tf.msPerStep), 0)} tok/s (best ${f(tf.bestMsPerStep)} ms); speedup theirs/ours ${f(speedup!, 2)}x (target >= 3x: ${speedup! >= 3 ? 'met' : 'not met'})`]
      : ['tfjs-webgpu', 'n/a', 'not run (--tfjs to run it)'],
    [`torch (${ARGS.torchDevice ?? 'none'})`, torch === null ? 'n/a' : `${f(torch.msPerStep)} ms`, torch === null ? (ARGS.torchDevice ? 'no python here imports torch' : 'not run') : `${f(tps(torch.msPerStep), 0)} tok/s on ${torch.device} (${torch.impl}, ${torch.threads} threads); theirs/ours ${f(torch.msPerStep / mine.msPerStep, 3)}x`],
    ['FLOPs vs full FT', f(flopsRatio, 3), `${(prefixCost.flops / 1e9).toFixed(3)} / ${(full.flops / 1e9).toFixed(3)} GFLOP (target <= 0.7: ${flopsRatio <= 0.7 ? 'met' : 'not met'})`],
    ['peak mem vs full FT', f(memRatio, 3), `${(prefixCost.peakBytes / 2 ** 20).toFixed(2)} / ${(full.peakBytes / 2 ** 20).toFixed(2)} MiB (target <= 0.5: ${memRatio <= 0.5 ? 'met' : 'not met'})`],
  ];
  console.log([
    `prefix-tuning step, ${ARGS.config}: GPT-2 L=${CONFIG.layers} d=${CONFIG.dim} heads=${CONFIG.heads} vocab=${CONFIG.vocabSize}, batch ${BATCH} x seq ${SEQ}, prefix ${PREFIX}; adapter: ${adapter}`,
    `${WARMUP} warm-up steps, median of ${SAMPLES} samples of ${STEPS} steps; load average (1/5/15 min) before ${load0.map((x) => f(x, 2)).join('/')}, after ${load1.map((x) => f(x, 2)).join('/')} on ${cpus().length} CPUs`,
    ...rows.map(([a, b, c2]) => `${a.padEnd(25)}${b.padEnd(12)}${c2}`),
    `first-step loss: ours ${mine.firstLoss.toPrecision(9)}` +
      (tf ? `, TF.js ${tf.firstLoss.toPrecision(9)} (|diff| ${lossDiff!.toExponential(2)})` : '') +
      (torch ? `, torch ${torch.firstLoss.toPrecision(9)} (|diff| ${torchLossDiff!.toExponential(2)}, ${torchLossDiff! <= 1e-4 ? 'agrees' : 'DISAGREES'} within 1e-4)` : ''),
    ...(tf ? [`first-step prefix gradient: max |ours - TF.js| ${gradDiff.toExponential(2)} (max |grad| ${gradMax.toExponential(2)})`] : []),
    `GEMM GFLOP/s (from matmul results, ours auto / TF.js): ${GEMM_SIZES.map((s) => `${s}: ${gemmGflops[s] ? `${f(gemmGflops[s]!.promptgraph, 2)} / ${f(gemmGflops[s]!.tfjs_webgpu, 2)}` : 'n/a'}`).join(', ')}`,
  ].join('\n'));

  // dist/bench/ -> bench/results/ unless --out
  const dir = ARGS.out ? pathToFileURL(ARGS.out.endsWith('/') ? ARGS.out : `${ARGS.out}/`) : new URL('../../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${slug}${ARGS.config === 'tiny' ? '' : `-${ARGS.config}`}.json`, dir);
  writeFileSync(file, JSON.stringify({
    date: new Date().toISOString(), adapter, method: SPEC, config_name: ARGS.config,
    config: { layers: CONFIG.layers, dim: CONFIG.dim, heads: CONFIG.heads, inner: CONFIG.inner, vocab: CONFIG.vocabSize, positions: CONFIG.positions, batch: BATCH, seq: SEQ, prefix: PREFIX, warmup: WARMUP, steps: STEPS, lr: LR },
    step_ms: { promptgraph: mine.msPerStep, ...(tuned ? { promptgraph_autotuned: tuned.msPerStep } : {}), tfjs_webgpu: tf?.msPerStep ?? null, torch_cpu: null, [torchKey]: torch?.msPerStep ?? null },
    step_ms_samples: { promptgraph: mine.samples, ...(tuned ? { promptgraph_autotuned: tuned.samples } : {}), tfjs_webgpu: tf?.samples ?? null },
    tokens_per_s: { promptgraph: tps(mine.msPerStep), ...(tuned ? { promptgraph_autotuned: tps(tuned.msPerStep) } : {}), tfjs_webgpu: tf ? tps(tf.msPerStep) : null, [torchKey]: torch ? tps(torch.msPerStep) : null },
    speedup_vs_tfjs: speedup,
    ...(ablations.length ? { ablations: Object.fromEntries(ablations.map((a) => [a.name, { ms_per_step: a.msPerStep, kernels: a.kernels, peak_bytes: a.peakBytes, first_step_loss: a.firstLoss }])) } : {}),
    ...(tuned ? { autotune: { tune_ms: tuned.tuneMs, timed: tuned.result.timed, from_cache: tuned.result.fromCache, cache_file: tuned.result.cacheFile, choices: Object.fromEntries(tuned.result.choices) } } : {}),
    ...(torch ? { torch: { device: torch.device, impl: torch.impl, threads: torch.threads } } : {}),
    first_step_loss: { promptgraph: mine.firstLoss, tfjs_webgpu: tf?.firstLoss ?? null, abs_diff: lossDiff, torch: torch?.firstLoss ?? null, torch_abs_diff: torchLossDiff },
    last_step_loss: { promptgraph: mine.lastLoss, tfjs_webgpu: tf?.lastLoss ?? null, torch: torch?.lastLoss ?? null },
    first_step_prefix_grad: tf ? { max_abs_diff: gradDiff, max_abs: gradMax } : null,
    gemm_gflops: gemmGflops,
    step_flops: { prefix_tuning: prefixCost.flops, full_ft: full.flops },
    peak_bytes: { prefix_tuning: prefixCost.peakBytes, full_ft: full.peakBytes },
    step_flops_ratio_vs_full_ft: flopsRatio,
    peak_memory_ratio_vs_full_ft: memRatio,
    targets: { speedup_vs_tfjs_ge_3: speedup === null ? null : speedup >= 3, flops_ratio_le_0_7: flopsRatio <= 0.7, peak_memory_ratio_le_0_5: memRatio <= 0.5, torch_first_loss_within_1e_4: torchLossDiff === null ? null : torchLossDiff <= 1e-4 },
    load_average: { before: load0, after: load1 }, cpus: cpus().length,
  }, null, 2) + '\n');
  console.log(`wrote ${fileURLToPath(file)}`);
}

await main();
// Both Dawn instances are released above; a stray reference in a dependency must not hang the run.
setTimeout(() => process.exit(0), 5000).unref();
