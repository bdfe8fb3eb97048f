// The matmul autotuner: for the matmul problems of a compiled program (shape, transposes, batch),
// times every applicable kernel variant on the device and keeps the fastest. Every variant is
// tested against the CPU reference, so only speed is at stake here. Choices are cached per adapter
// in a JSON file, keyed by the adapter, the Dawn package version and a hash of the generated
// kernels, so a driver, Dawn or kernel change retunes instead of reusing stale choices.
// The choices reach kernel generation through `KernelTarget.matmulChoices` (see chooseVariant).

import { createHash } from 'node:crypto';
import { readFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as t from 'io-ts';
import type { Graph, TensorType } from '../graph/index.js';
import { decodeAttrs, getOp, type Kernel, type KernelTarget } from '../ops/registry.js';
import { matmulKernel, matmulProblemOf, type MatmulAttrs } from '../ops/defs/matmul.js';
import {
  applicableVariants, generateMatmul, heuristicVariant, MATMUL_VARIANTS, matmulProblemKey, SMALL_FLOPS,
  type MatmulProblem, type MatmulVariant,
} from '../ops/defs/matmul-kernels.js';
import { decodeOrThrow } from '../util/decode.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { Compiled } from '../passes/compile.js';
import type { GpuContext } from './gpu.js';
import type { Logger } from './logger.js';

export const AUTOTUNE_FORMAT = 'promptgraph.autotune/1';

export interface AutotuneOptions {
  /** Folder of the cache file; null: no file. Default: $PROMPTGRAPH_CACHE_DIR, else ~/.cache/promptgraph. */
  cacheDir?: string | null;
  /** Timed samples per variant (median taken); default 5. */
  samples?: number;
  /** Aim for samples at least this long (dispatches per sample grow up to maxDispatches); default 2 ms. */
  sampleMs?: number;
  maxDispatches?: number;
  /**
   * Problems under this many flops keep the heuristic choice. Default: SMALL_FLOPS on software
   * adapters (the heuristic picks `naive` there to save llvmpipe compile time, which timing
   * dispatches does not see), 0 on GPUs.
   */
  minFlops?: number;
  /** Time again even when the cache has a choice. */
  retune?: boolean;
  /** The clock (tests inject one); default performance.now. */
  now?: () => number;
  /** Where warnings go (a corrupt cache file); default the context's logger. */
  logger?: Logger;
}

/** One distinct matmul problem of a graph, with the operand types needed to build its kernels. */
export interface MatmulCase {
  readonly key: string;
  readonly problem: MatmulProblem;
  readonly a: TensorType;
  readonly b: TensorType;
  readonly out: TensorType;
  readonly attrs: MatmulAttrs;
}

export interface AutotuneResult {
  /** The chosen variant per problem key (tuned now or read from the cache). */
  readonly choices: ReadonlyMap<string, MatmulVariant>;
  /** Problems timed in this call, and dispatches made doing it (0 when all came from the cache). */
  readonly timed: number;
  readonly dispatches: number;
  readonly fromCache: number;
  readonly cacheFile: string | null;
}

// ---- the cache file -------------------------------------------------------------------------------

const Variant = t.keyof(Object.fromEntries(MATMUL_VARIANTS.map((v) => [v, null])) as Record<MatmulVariant, null>);
const Entry = t.type({ variant: Variant, ms: t.record(t.string, t.number) });
const CacheFile = t.type({
  format: t.literal(AUTOTUNE_FORMAT),
  adapter: t.type({ vendor: t.string, architecture: t.string, description: t.string }),
  webgpu: t.string,
  kernels: t.string,
  choices: t.record(t.string, Entry),
});
type CacheFile = t.TypeOf<typeof CacheFile>;
type Entry = t.TypeOf<typeof Entry>;

/** The version of the `webgpu` (Dawn) package: its Dawn build shapes the generated machine code. */
export function webgpuVersion(): string {
  const pkg = createRequire(import.meta.url)('webgpu/package.json') as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

const hashes = new WeakMap<KernelTarget, string>();

/**
 * A hash of the WGSL every applicable variant generates for a few probe problems (small, aligned,
 * batched with transposes and broadcast offsets, large): any change to the generators changes it.
 */
export function kernelSourceHash(target: KernelTarget): string {
  let h = hashes.get(target);
  if (h) return h;
  const probe = (batch: number, M: number, K: number, N: number, transA: boolean, transB: boolean, aOffset = '0u', bOffset = '0u'): MatmulProblem =>
    ({ batch, M, K, N, transA, transB, aOffset, bOffset });
  const probes = [probe(1, 1, 3, 17, false, false), probe(1, 64, 64, 64, false, false), probe(3, 70, 45, 130, true, true, 'bi * 3150u', '(bi % 1u) * 5850u'),
    probe(1, 512, 128, 512, false, true), probe(1, 1024, 1024, 1024, false, false), { ...probe(1, 64, 64, 64, false, true), bF16: true }];
  const hash = createHash('sha256');
  for (const v of applicableVariants(target)) for (const p of probes) hash.update(`${v}\n${generateMatmul(p, v, { ...target, matmulChoices: undefined }).code}\n`);
  h = hash.digest('hex').slice(0, 16);
  hashes.set(target, h);
  return h;
}

/** `<dir>/autotune-<vendor-architecture-description>.json`. */
export function autotuneCachePath(ctx: GpuContext, dir: string): string {
  const { vendor, architecture, description, name } = ctx.adapter;
  const slug = [vendor, architecture, description || name].filter(Boolean).join('-').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 100) || 'adapter';
  return join(dir, `autotune-${slug}.json`);
}

function defaultCacheDir(): string {
  return process.env.PROMPTGRAPH_CACHE_DIR || join(homedir(), '.cache', 'promptgraph');
}

function header(ctx: GpuContext): Omit<CacheFile, 'choices'> {
  const { vendor, architecture, description } = ctx.adapter;
  return { format: AUTOTUNE_FORMAT, adapter: { vendor, architecture, description }, webgpu: webgpuVersion(), kernels: kernelSourceHash(ctx.target) };
}

/** The cached entries if the file exists, decodes and matches this adapter and these kernels; else none (with a warning). */
async function readCache(path: string, want: Omit<CacheFile, 'choices'>, log: Logger): Promise<Map<string, Entry>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`autotune: cannot read ${path} (${(e as Error).message}); retuning`);
    return new Map();
  }
  let file: CacheFile;
  try {
    file = decodeOrThrow(CacheFile, JSON.parse(text), 'autotune cache');
  } catch (e) {
    log.warn(`autotune: ignoring corrupt cache file ${path} (${(e as Error).message}); retuning`);
    return new Map();
  }
  const stale = [
    ...((['vendor', 'architecture', 'description'] as const).some((k) => file.adapter[k] !== want.adapter[k])
      ? [`adapter ${JSON.stringify(file.adapter)} != ${JSON.stringify(want.adapter)}`] : []),
    ...(file.webgpu !== want.webgpu ? [`webgpu ${file.webgpu} != ${want.webgpu}`] : []),
    ...(file.kernels !== want.kernels ? [`kernel hash ${file.kernels} != ${want.kernels}`] : []),
  ];
  if (stale.length) {
    log.warn(`autotune: ignoring ${path}, made for another setup (${stale.join('; ')}); retuning`);
    return new Map();
  }
  return new Map(Object.entries(file.choices));
}

// ---- problems and timing --------------------------------------------------------------------------

/** The distinct matmul problems of a graph's matmul and matmul_fused nodes (empty and K = 0 ones need no tuning). */
export function matmulCases(graph: Graph): MatmulCase[] {
  const cases = new Map<string, MatmulCase>();
  for (const n of graph.nodes) {
    if (n.op !== 'matmul' && n.op !== 'matmul_fused') continue;
    const raw = decodeAttrs(getOp(n.op), n.attrs, `%${n.id}`) as MatmulAttrs;
    const attrs = { transA: raw.transA, transB: raw.transB };
    const [a, b] = n.inputs.slice(0, 2).map((i) => graph.node(i).type);
    // The f16 flags are part of the problem (and its key): f16 operands get other kernels.
    const problem = matmulProblemOf(a, b, attrs);
    if (problem.K === 0 || problem.batch * problem.M * problem.N === 0) continue;
    const key = matmulProblemKey(problem);
    if (!cases.has(key)) cases.set(key, { key, problem, a, b, out: { shape: [problem.batch * problem.M * problem.N], dtype: 'f32' }, attrs });
  }
  return [...cases.values()];
}

const median = (xs: readonly number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const flopsOf = (p: MatmulProblem): number => 2 * p.batch * p.M * p.N * p.K;

/**
 * ms per dispatch of one variant (median of samples), or null if it cannot run this problem here.
 * A variant whose first timed dispatch takes over 3x the best so far is not sampled further.
 */
async function timeVariant(ctx: GpuContext, c: MatmulCase, variant: MatmulVariant, opts: Required<Pick<AutotuneOptions, 'samples' | 'sampleMs' | 'maxDispatches' | 'now'>>, best: number, count: { dispatches: number }, log: Logger): Promise<number | null> {
  let kernel: Kernel, pipeline: GPUComputePipeline;
  try {
    kernel = matmulKernel({ inputs: [c.a, c.b], output: c.out, attrs: c.attrs, target: ctx.target }, variant);
    pipeline = await ctx.pipeline(kernel.code, 3, `autotune ${kernel.variant}`);
  } catch (e) {
    log.debug(`autotune: ${variant} does not run ${c.key}: ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
  // Zero-filled operands: the kernels have no data-dependent paths, so the values do not matter.
  const bufs = [ctx.allocate(c.a), ctx.allocate(c.b), ctx.allocate(c.out)];
  try {
    const group = ctx.bindGroup(3, bufs.map((x) => x.buffer));
    const run = async (n: number): Promise<number> => {
      const t0 = opts.now();
      await ctx.submit((pass) => {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        for (let i = 0; i < n; i++) pass.dispatchWorkgroups(...kernel.workgroups);
      }, `autotune ${kernel.variant}`);
      await ctx.sync('autotune');
      count.dispatches += n;
      return opts.now() - t0;
    };
    await run(1); // warm-up: llvmpipe JIT-compiles at the first dispatch
    const once = await run(1);
    if (once > 3 * best) return once;
    const n = Math.max(1, Math.min(opts.maxDispatches, Math.ceil(opts.sampleMs / Math.max(once, 1e-3))));
    const samples: number[] = [];
    for (let s = 0; s < opts.samples; s++) samples.push((await run(n)) / n);
    return median(samples);
  } finally {
    for (const x of bufs) ctx.free(x);
  }
}

/**
 * Chooses a variant for each problem: from the cache when it holds one for this adapter, Dawn and
 * kernel sources, else by timing every applicable variant; writes new choices back to the cache.
 */
export async function autotuneMatmuls(ctx: GpuContext, cases: readonly MatmulCase[], options: AutotuneOptions = {}): Promise<AutotuneResult> {
  const log = options.logger ?? ctx.logger;
  const opts = { samples: options.samples ?? 5, sampleMs: options.sampleMs ?? 2, maxDispatches: options.maxDispatches ?? 64, now: options.now ?? (() => performance.now()) };
  if (!(opts.samples >= 1) || !(opts.maxDispatches >= 1)) throw new Error(`autotune: samples and maxDispatches must be >= 1, got ${opts.samples} and ${opts.maxDispatches}`);
  const minFlops = options.minFlops ?? (ctx.target.kind === 'cpu' ? SMALL_FLOPS : 0);
  const dir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const path = dir === null ? null : autotuneCachePath(ctx, dir);
  const want = header(ctx);
  const cached = path && !options.retune ? await readCache(path, want, log) : new Map<string, Entry>();
  const variants = applicableVariants(ctx.target);
  const choices = new Map<string, MatmulVariant>();
  const fresh = new Map<string, Entry>();
  const count = { dispatches: 0 };
  let fromCache = 0;
  for (const c of cases) {
    const hit = cached.get(c.key);
    if (hit && variants.includes(hit.variant)) {
      choices.set(c.key, hit.variant);
      fromCache++;
      continue;
    }
    if (flopsOf(c.problem) < minFlops) continue; // the heuristic's choice stands
    const ms: Record<string, number> = {};
    for (const v of variants) {
      const m = await timeVariant(ctx, c, v, opts, Math.min(Infinity, ...Object.values(ms)), count, log);
      if (m !== null) ms[v] = m;
    }
    const timedVariants = Object.keys(ms) as MatmulVariant[];
    if (!timedVariants.length) continue;
    const best = timedVariants.reduce((x, y) => (ms[y] < ms[x] ? y : x));
    log.debug(`autotune ${c.key}: ${best} (${timedVariants.map((v) => `${v} ${ms[v].toFixed(3)} ms`).join(', ')}; heuristic ${heuristicVariant(c.problem, ctx.target)})`);
    choices.set(c.key, best);
    fresh.set(c.key, { variant: best, ms });
  }
  if (path && fresh.size) {
    // Merge with what another process may have written meanwhile (same setup only).
    const now = await readCache(path, want, { debug() {}, info() {}, warn() {} });
    const file: CacheFile = { ...want, choices: Object.fromEntries([...cached, ...now, ...fresh]) };
    try {
      await mkdir(dir!, { recursive: true });
      await writeJsonAtomic(path, file);
    } catch (e) {
      // The choices are in hand: a cache that cannot be written costs a retune next time, no more.
      log.warn(`autotune: could not write the cache ${path} (${(e as Error).message}); the choices hold for this program only`);
    }
  }
  return { choices, timed: fresh.size, dispatches: count.dispatches, fromCache, cacheFile: path };
}

/** The compiled program with its matmul kernels regenerated for the given choices (the rest as compiled). */
export function withMatmulChoices(compiled: Compiled, choices: ReadonlyMap<string, MatmulVariant>): Compiled {
  const target: KernelTarget = { ...compiled.target, matmulChoices: new Map([...(compiled.target.matmulChoices ?? []), ...choices]) };
  const g = compiled.graph;
  const kernels = new Map(compiled.kernels);
  for (const [id] of compiled.kernels) {
    const n = g.node(id);
    if (n.op !== 'matmul' && n.op !== 'matmul_fused') continue;
    const def = getOp(n.op);
    kernels.set(id, def.kernel!({ inputs: n.inputs.map((i) => g.node(i).type), output: n.type, attrs: decodeAttrs(def, n.attrs, `%${n.id}`), target }));
  }
  return { ...compiled, kernels, target };
}

/** Tunes (or reads from the cache) the matmul problems of `compiled` and returns it with the chosen kernels. */
export async function autotuneCompiled(ctx: GpuContext, compiled: Compiled, opts: AutotuneOptions = {}): Promise<{ compiled: Compiled; result: AutotuneResult }> {
  const result = await autotuneMatmuls(ctx, matmulCases(compiled.graph), opts);
  return { compiled: withMatmulChoices(compiled, result.choices), result };
}

/** Autotuning is opt-in: PROMPTGRAPH_AUTOTUNE=1 turns it on where no option says otherwise. */
export function autotuneFromEnv(): boolean {
  return process.env.PROMPTGRAPH_AUTOTUNE === '1';
}
