// The matmul autotuner on lavapipe: it times the applicable variants of a small graph's matmul
// problems and keeps the fastest, caches the choices per adapter (a second tune times nothing),
// ignores a corrupt or stale cache with a warning, and a program built with chosen variants
// computes what the heuristic one does.

import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, GraphBuilder, initParams, Program, randomTensor, type Compiled, type Graph, type HostTensor, type ParamStore } from '../src/index.js';
import {
  AUTOTUNE_FORMAT, autotuneCachePath, autotuneMatmuls, kernelSourceHash, matmulCases, webgpuVersion, withMatmulChoices, type AutotuneOptions,
} from '../src/runtime/autotune.js';
import { applicableVariants, chooseVariant, heuristicVariant, type MatmulProblem, type MatmulVariant } from '../src/ops/defs/matmul-kernels.js';
import { DEFAULT_TARGET } from '../src/ops/registry.js';
import type { Logger } from '../src/runtime/logger.js';
import { expectClose } from './helpers.js';
import { gpu } from './setup.js';

/** A fused linear layer ([2,5,12] x [12,20] + bias, gelu) and a batched attention-like product (few problems: each variant compiles ~1 s on llvmpipe). */
function graph(): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [2, 5, 12]);
  const w = b.param('w', [12, 20], { init: 'normal:0.5' });
  const bias = b.param('bias', [20], { init: 'normal:0.5' });
  const h = b.gelu(b.add(b.matmul(x, w), bias));
  b.output('y', b.matmul(h, h, { transB: true })); // [2,5,5]
  return b.graph;
}

const feeds = { x: randomTensor([2, 5, 12], 3) };
// Small problems: tune them all (the software default skips problems under SMALL_FLOPS), quickly.
const FAST: AutotuneOptions = { minFlops: 0, samples: 3, maxDispatches: 8 };

function capture(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, warn: (m: string) => void warnings.push(m) };
}

async function run(c: Compiled, params: ParamStore): Promise<HostTensor> {
  const p = await Program.create(await gpu(), c, params, { autotune: false });
  try {
    return (await p.run(feeds, ['y'])).get('y')!;
  } finally {
    p.release();
  }
}

describe('matmul autotuner', () => {
  let dir: string;
  let compiled: Compiled;
  let params: ParamStore;
  before(async () => {
    const ctx = await gpu();
    dir = await mkdtemp(join(tmpdir(), 'pg-autotune-'));
    const g = graph();
    params = initParams(g, 1);
    compiled = compile(g, { target: ctx.target, params: new Map(params) });
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('finds the distinct problems of matmul and matmul_fused nodes', () => {
    const ops = compiled.graph.nodes.map((n) => n.op);
    expect(ops, 'the fusion pass made a matmul_fused').to.include('matmul_fused');
    expect(matmulCases(compiled.graph).map((c) => c.key).sort()).to.deep.equal(['b1 m10 k12 n20 NN', 'b2 m5 k20 n5 NT']);
  });

  it('f16 operands are part of the problem: their own key, and a forced choice reaches their kernel', async () => {
    const ctx = await gpu();
    const half = compile(graph(), { target: ctx.target, params: new Map(params), frozenStorage: 'f16' });
    const keys = matmulCases(half.graph).map((c) => c.key).sort();
    expect(keys).to.deep.equal(['b1 m10 k12 n20 NN fh', 'b2 m5 k20 n5 NT']);
    const forced = withMatmulChoices(half, new Map<string, MatmulVariant>([['b1 m10 k12 n20 NN fh', 'skinny']]));
    const variants = [...forced.kernels].filter(([id]) => half.graph.node(id).op.startsWith('matmul')).map(([, k]) => k.variant);
    expect(variants.some((v) => v.startsWith('matmul.skinny')), variants.join(', ')).to.equal(true);
  });

  it('times the applicable variants, keeps the fastest and writes the cache', async () => {
    const ctx = await gpu();
    const cases = matmulCases(compiled.graph);
    const r = await autotuneMatmuls(ctx, cases, { ...FAST, cacheDir: dir });
    expect(r.timed).to.equal(cases.length);
    expect(r.fromCache).to.equal(0);
    expect(r.dispatches).to.be.greaterThan(0);
    expect(r.cacheFile).to.equal(autotuneCachePath(ctx, dir));
    const applicable = applicableVariants(ctx.target);
    const file = JSON.parse(await readFile(r.cacheFile!, 'utf8'));
    expect(file).to.include({ format: AUTOTUNE_FORMAT, webgpu: webgpuVersion(), kernels: kernelSourceHash(ctx.target) });
    expect(file.adapter).to.deep.equal({ vendor: ctx.adapter.vendor, architecture: ctx.adapter.architecture, description: ctx.adapter.description });
    for (const c of cases) {
      const choice = r.choices.get(c.key)!;
      expect(applicable, c.key).to.include(choice);
      const ms: Record<string, number> = file.choices[c.key].ms;
      expect(Object.keys(ms).sort(), `${c.key}: every applicable variant timed`).to.deep.equal([...applicable].sort());
      expect(choice, `${c.key}: the fastest of ${JSON.stringify(ms)}`).to.equal(Object.keys(ms).reduce((x, y) => (ms[y] < ms[x] ? y : x)));
      expect(file.choices[c.key].variant).to.equal(choice);
    }
  });

  it('a second tune reads the cache and times nothing', async () => {
    const ctx = await gpu();
    const cases = matmulCases(compiled.graph);
    const first = await autotuneMatmuls(ctx, cases, { ...FAST, cacheDir: dir });
    let ticks = 0;
    const r = await autotuneMatmuls(ctx, cases, { ...FAST, cacheDir: dir, now: () => ++ticks });
    expect({ timed: r.timed, dispatches: r.dispatches, ticks, fromCache: r.fromCache }).to.deep.equal({ timed: 0, dispatches: 0, ticks: 0, fromCache: cases.length });
    expect([...r.choices]).to.deep.equal([...first.choices]);
  });

  it('ignores a corrupt or stale cache file with a warning, and retunes', async () => {
    const ctx = await gpu();
    const cases = matmulCases(compiled.graph);
    const path = autotuneCachePath(ctx, dir);
    const good = JSON.parse(await readFile(path, 'utf8'));
    const bad: [string, string, RegExp][] = [
      ['truncated JSON', '{"format": "promptgraph.autotune/1", "choi', /corrupt cache file/],
      ['unknown variant', JSON.stringify({ ...good, choices: { [cases[0].key]: { variant: 'fastest', ms: {} } } }), /corrupt cache file.*variant/],
      ['other Dawn version', JSON.stringify({ ...good, webgpu: '0.0.1' }), /webgpu 0\.0\.1 != /],
      ['other kernels', JSON.stringify({ ...good, kernels: 'feedbeef' }), /kernel hash feedbeef != /],
      ['other adapter', JSON.stringify({ ...good, adapter: { ...good.adapter, description: 'some GPU' } }), /adapter .*some GPU/],
    ];
    for (const [what, text, message] of bad) {
      await writeFile(path, text);
      const log = capture();
      const r = await autotuneMatmuls(ctx, cases, { ...FAST, cacheDir: dir, logger: log });
      expect(log.warnings, what).to.have.length(1);
      expect(log.warnings[0], what).to.match(message);
      expect(r.timed, `${what}: retuned`).to.equal(cases.length);
      const after = JSON.parse(await readFile(path, 'utf8'));
      expect(after.webgpu, `${what}: rewritten for this setup`).to.equal(webgpuVersion());
      expect(Object.keys(after.choices).sort(), what).to.deep.equal(cases.map((c) => c.key).sort());
    }
  });

  it('a program built with other variants gives the heuristic program\'s outputs', async () => {
    const ctx = await gpu();
    const applicable = applicableVariants(ctx.target);
    // For every problem a variant the heuristic does not pick, so the test compares different kernels.
    const forced = new Map<string, MatmulVariant>(matmulCases(compiled.graph).map((c) => {
      const h = heuristicVariant(c.problem, ctx.target);
      return [c.key, applicable.find((v) => v !== h && v !== 'naive') ?? applicable.find((v) => v !== h)!];
    }));
    const tuned = withMatmulChoices(compiled, forced);
    const names = (c: Compiled): string[] => [...c.kernels].filter(([id]) => compiled.graph.node(id).op.startsWith('matmul')).map(([, k]) => k.variant.split('+')[0].replace(/\d+x\d+$/, '')).sort(); // subgroup16x32 -> subgroup
    expect(names(tuned)).to.not.deep.equal(names(compiled));
    expect(names(tuned)).to.deep.equal(matmulCases(compiled.graph).map((c) => `matmul.${forced.get(c.key)}`).sort());
    const heuristic = await run(compiled, params);
    expectClose(await run(tuned, params), heuristic, { rel: 1e-5, abs: 1e-5 }, 'forced variants');
    // And through Program.create's option, tuning (or reading the cache) on the way.
    const p = await Program.create(ctx, compiled, params, { autotune: { ...FAST, cacheDir: dir } });
    try {
      expectClose((await p.run(feeds, ['y'])).get('y')!, heuristic, { rel: 1e-5, abs: 1e-5 }, 'autotuned program');
    } finally {
      p.release();
    }
  });

  it('on a software adapter leaves problems under SMALL_FLOPS to the heuristic by default', async function () {
    const ctx = await gpu();
    if (ctx.target.kind !== 'cpu') this.skip();
    const r = await autotuneMatmuls(ctx, matmulCases(compiled.graph), { cacheDir: null });
    expect({ choices: r.choices.size, dispatches: r.dispatches }).to.deep.equal({ choices: 0, dispatches: 0 });
  });

  it('chooseVariant takes an applicable tuned choice and ignores an inapplicable one', () => {
    const p: MatmulProblem = { batch: 1, M: 64, K: 64, N: 64, transA: false, transB: false, aOffset: '0u', bOffset: '0u' };
    const key = 'b1 m64 k64 n64 NN';
    expect(chooseVariant(p, { ...DEFAULT_TARGET, matmulChoices: new Map([[key, 'skinny']]) })).to.equal('skinny');
    expect(chooseVariant(p, { ...DEFAULT_TARGET, matmulChoices: new Map([['b1 m64 k64 n32 NN', 'skinny']]) })).to.equal(heuristicVariant(p, DEFAULT_TARGET));
    // DEFAULT_TARGET has no subgroups: a cached 'subgroup' must not be used there.
    expect(chooseVariant(p, { ...DEFAULT_TARGET, matmulChoices: new Map([[key, 'subgroup']]) })).to.equal(heuristicVariant(p, DEFAULT_TARGET));
  });
});
