// Matmul throughput on the Dawn adapter: every variant at 256, 512 and 1024 square, with
// TensorFlow.js's WebGPU matMul as a peer on the same adapter in the same process.
// Prints a table and writes bench/results/matmul-<adapter>.json. A benchmark, not a test.
//
// Timing, the same for both: compile and the first dispatch (llvmpipe JITs there) are excluded;
// each sample records `reps` matmuls back to back (ours: one compute pass, one submit; TF.js:
// its own batching, 15 dispatches per submit), then waits for queue.onSubmittedWorkDone().
// Up to three samples per point; the median is the figure, the best is shown too because other
// work on the machine makes samples noisy (the 1-minute load average is recorded).

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { create, globals } from 'webgpu';
import { GpuContext, randomTensor, type HostTensor } from '../src/index.js';
import { MATMUL_VARIANTS, matmulKernel, type MatmulVariant } from '../src/ops/defs/matmul.js';

const SIZES = [256, 512, 1024];
const SAMPLES = 3;
/** A sample records enough matmuls to last about this long... */
const SAMPLE_MS = 400;
const MAX_REPS = 200;
/** ...and a point stops sampling after this long (the naive kernel at 1024 takes ~1 s per matmul). */
const MAX_MS = 4000;
const ATTRS = { transA: false, transB: false };

interface Point { size: number; impl: string; kernel: string; median: number; best: number; samples: number; reps: number; msPerMatmul: number }

const gflops = (n: number, reps: number, ms: number): number => (2 * n ** 3 * reps) / ms / 1e6;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Samples `run(reps)` (which must include the wait) after one warm-up call. `reps` adapts until a
 * sample lasts about SAMPLE_MS; a slow kernel stops after MAX_MS with the samples it has.
 */
async function measure(n: number, impl: string, kernel: string, run: (reps: number) => Promise<void>): Promise<Point> {
  await run(1); // warm-up: llvmpipe compiles the pipeline at its first dispatch
  const rates: number[] = [];
  let reps = 1, spent = 0, used = 1;
  while (rates.length < SAMPLES && !(spent > MAX_MS && rates.length > 0)) {
    const t = performance.now();
    await run(reps);
    const ms = performance.now() - t;
    spent += ms;
    if (ms >= SAMPLE_MS / 2 || reps >= MAX_REPS) {
      rates.push(gflops(n, reps, ms));
      used = reps;
    } else {
      reps = Math.min(MAX_REPS, Math.ceil((reps * SAMPLE_MS) / Math.max(ms, 0.05)));
    }
  }
  const m = median(rates);
  return { size: n, impl, kernel, median: m, best: Math.max(...rates), samples: rates.length, reps: used, msPerMatmul: (2 * n ** 3) / m / 1e6 };
}

async function ours(ctx: GpuContext, n: number, a: HostTensor, b: HostTensor, variant: MatmulVariant): Promise<Point> {
  const type = { shape: [n, n], dtype: 'f32' as const };
  const kernel = matmulKernel({ inputs: [type, type], output: type, attrs: ATTRS, target: ctx.target }, variant);
  const pipeline = await ctx.pipeline(kernel.code, 3, kernel.variant);
  const [ga, gb, go] = [ctx.upload(a), ctx.upload(b), ctx.allocate(type)];
  const group = ctx.bindGroup(3, [ga.buffer, gb.buffer, go.buffer]);
  try {
    return await measure(n, variant, kernel.variant, async (reps) => {
      await ctx.submit((pass) => {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        for (let i = 0; i < reps; i++) pass.dispatchWorkgroups(...kernel.workgroups);
      }, kernel.variant);
      await ctx.sync();
    });
  } finally {
    for (const x of [ga, gb, go]) ctx.free(x);
  }
}

// ---- TensorFlow.js on its own Dawn instance ----------------------------------------------------

type Tf = typeof import('@tensorflow/tfjs-core');
/** The WebGPU backend's internals used to flush and wait like we do (not public API). */
interface TfWebGpuInternals { device: GPUDevice; commandEncoder: unknown; endComputePassEncoder(): void; submitQueue(): void }

async function startTf(): Promise<{ tf: Tf; be: TfWebGpuInternals; adapter: string }> {
  Object.assign(globalThis, globals);
  // The backend registers itself at import time only if navigator.gpu exists.
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true, writable: true });
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its webgpu backend');
  await tf.ready();
  const be = tf.backend() as unknown as TfWebGpuInternals & { adapterInfo?: { description?: string; device?: string } };
  return { tf, be, adapter: be.adapterInfo?.description || be.adapterInfo?.device || '?' };
}

async function tfMatmul(tf: Tf, be: TfWebGpuInternals, n: number, a: HostTensor, b: HostTensor): Promise<{ point: Point; out: Float32Array }> {
  const ta = tf.tensor2d(Float32Array.from(a.data), [n, n]);
  const tb = tf.tensor2d(Float32Array.from(b.data), [n, n]);
  const sync = async (): Promise<void> => {
    if (be.commandEncoder) {
      be.endComputePassEncoder();
      be.submitQueue();
    }
    await be.device.queue.onSubmittedWorkDone();
  };
  const first = tf.matMul(ta, tb);
  const out = (await first.data()) as Float32Array; // compiles the program, and checks the answer below
  first.dispose();
  const point = await measure(n, 'tfjs', 'tf.matMul (webgpu)', async (reps) => {
    for (let i = 0; i < reps; i++) tf.matMul(ta, tb).dispose(); // buffers are recycled after the submit
    await sync();
  });
  ta.dispose();
  tb.dispose();
  return { point, out };
}

function stopTf(tf: Tf, be: TfWebGpuInternals): void {
  tf.removeBackend('webgpu'); // disposes its buffers, not the device
  be.device.destroy();
  delete (globalThis as { navigator?: unknown }).navigator; // drops the Dawn instance so Node can exit
}

// ---- main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const load0 = loadavg()[0];
  const ctx = await GpuContext.acquire();
  const variants = MATMUL_VARIANTS.filter((v) => v !== 'subgroup' || ctx.target.subgroups);
  const { tf, be, adapter: tfAdapter } = await startTf();
  const points: Point[] = [];
  const checks: Agreement[] = [];
  try {
    for (const n of SIZES) {
      const a = randomTensor([n, n], n), b = randomTensor([n, n], n + 1);
      const type = { shape: [n, n], dtype: 'f32' as const };
      const auto = matmulKernel({ inputs: [type, type], output: type, attrs: ATTRS, target: ctx.target }).variant;
      for (const v of variants) {
        const p = await ours(ctx, n, a, b, v);
        points.push(p);
        console.error(`  ${n}: ${p.kernel} ${p.median.toFixed(2)} GFLOP/s${p.kernel === auto ? ' (auto)' : ''}`);
      }
      const { point, out } = await tfMatmul(tf, be, n, a, b);
      points.push(point);
      console.error(`  ${n}: tfjs ${point.median.toFixed(2)} GFLOP/s`);
      checks.push(await agreement(ctx, n, a, b, out));
    }
  } finally {
    stopTf(tf, be);
  }
  const load1 = loadavg()[0];
  report(ctx, tfAdapter, points, checks, [load0, load1]);
  ctx.release();
}

interface Agreement { size: number; oursVsTfjs: number; oursVsF64: number }

/** Max |difference| of our automatic choice against TF.js and against a float64 product. */
async function agreement(ctx: GpuContext, n: number, a: HostTensor, b: HostTensor, tfOut: Float32Array): Promise<Agreement> {
  const type = { shape: [n, n], dtype: 'f32' as const };
  const kernel = matmulKernel({ inputs: [type, type], output: type, attrs: ATTRS, target: ctx.target });
  const pipeline = await ctx.pipeline(kernel.code, 3, kernel.variant);
  const [ga, gb, go] = [ctx.upload(a), ctx.upload(b), ctx.allocate(type)];
  try {
    await ctx.submit((pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, ctx.bindGroup(3, [ga.buffer, gb.buffer, go.buffer]));
      pass.dispatchWorkgroups(...kernel.workgroups);
    });
    const mine = (await ctx.download(go)).data;
    const exact = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < n; k++) {
        const x = a.data[i * n + k];
        for (let j = 0; j < n; j++) exact[i * n + j] += x * b.data[k * n + j];
      }
    }
    let tf = 0, f64 = 0;
    for (let i = 0; i < n * n; i++) {
      tf = Math.max(tf, Math.abs(mine[i] - tfOut[i]));
      f64 = Math.max(f64, Math.abs(mine[i] - exact[i]));
    }
    return { size: n, oursVsTfjs: tf, oursVsF64: f64 };
  } finally {
    for (const x of [ga, gb, go]) ctx.free(x);
  }
}

function report(ctx: GpuContext, tfAdapter: string, points: Point[], checks: Agreement[], load: number[]): void {
  const impls = [...new Set(points.map((p) => p.impl))];
  const at = (impl: string, n: number): Point | undefined => points.find((p) => p.impl === impl && p.size === n);
  const cell = (p: Point | undefined): string => (p ? `${p.median.toFixed(2)} (${p.best.toFixed(2)})` : '-');
  const lines = [
    `matmul f32, square n x n x n, GFLOP/s median (best) of up to ${SAMPLES} samples; adapter: ${ctx.adapter.description || ctx.adapter.name}`,
    `load average (1 min) before/after: ${load.map((x) => x.toFixed(2)).join(' / ')} on ${cpus().length} CPUs`,
    ['variant'.padEnd(20), ...SIZES.map((n) => `n=${n}`.padEnd(18)), 'kernel at 1024'].join(''),
  ];
  for (const impl of impls) lines.push([impl.padEnd(20), ...SIZES.map((n) => cell(at(impl, n)).padEnd(18)), at(impl, 1024)?.kernel ?? ''].join(''));
  for (const impl of impls.filter((i) => i !== 'tfjs')) {
    lines.push([`${impl}/tfjs`.padEnd(20), ...SIZES.map((n) => {
      const [p, q] = [at(impl, n), at('tfjs', n)];
      return (p && q ? `${(p.median / q.median).toFixed(2)}x` : '-').padEnd(18);
    })].join(''));
  }
  lines.push(`max |ours (auto) - TF.js| / |ours - float64|: ${checks.map((c) => `n=${c.size}: ${c.oursVsTfjs.toExponential(1)} / ${c.oursVsF64.toExponential(1)}`).join(', ')}`);
  console.log(lines.join('\n'));
  const slug = (ctx.adapter.name || 'adapter').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const dir = new URL('../../bench/results/', import.meta.url); // dist/bench/ -> bench/results/
  mkdirSync(dir, { recursive: true });
  const file = new URL(`matmul-${slug}.json`, dir);
  writeFileSync(file, JSON.stringify({
    date: new Date().toISOString(), adapter: ctx.adapter, tfjsAdapter: tfAdapter, target: ctx.target,
    loadAverage1m: { before: load[0], after: load[1] }, cpus: cpus().length, samples: SAMPLES, points, agreement: checks,
  }, null, 2) + '\n');
  console.log(`wrote ${file.pathname}`);
}

await main();
// Dawn keeps Node alive while an instance is referenced; everything is released above, but a
// stray reference inside a dependency must not leave a benchmark hanging.
setTimeout(() => process.exit(0), 5000).unref();
