// Gradient checking for op gradient rules:
//  1. the backward graph evaluated on the CPU in float64 against central finite differences of
//     L = sum(y * dy) (relative error <= 1e-6 by default), and
//  2. the same backward graph on WebGPU against the CPU executor in f32 (<= 1e-4 by default).
import { expect } from 'chai';
import {
  GraphBuilder, CpuExecutor, GpuExecutor, validate, opSchemas, randomTensor, type HostTensor, type Ref,
} from '../src/index.js';
import { appendBackward } from '../src/passes/autodiff.js';
import { expectClose } from './helpers.js';
import { gpu } from './setup.js';

export interface GradCheckOptions {
  /** Input names to differentiate (default: every f32 feed). */
  wrt?: string[];
  eps?: number;
  rel?: number;
  abs?: number;
  /** Tolerance of WebGPU vs CPU for the backward graph. */
  gpuRel?: number;
  gpuAbs?: number;
  /** Check at most this many elements per input by finite differences (spread evenly). */
  maxElements?: number;
  /** Skip the WebGPU comparison (e.g. when a test only concerns the rule). */
  skipGpu?: boolean;
}

export async function checkGradients(build: (b: GraphBuilder) => Ref, feeds: Record<string, HostTensor>, opts: GradCheckOptions = {}): Promise<void> {
  const wrtNames = opts.wrt ?? Object.keys(feeds).filter((k) => feeds[k].dtype !== 'i32');
  const b = new GraphBuilder();
  const y = build(b);
  const dyIn = b.input('__dy', y.type.shape, y.type.dtype);
  const inputIds = new Map(b.graph.inputs().map((n) => [String(n.attrs.name), n.id]));
  const wrtIds = wrtNames.map((name) => {
    const id = inputIds.get(name);
    if (id === undefined) throw new Error(`checkGradients: no input '${name}'`);
    return id;
  });
  const { grads } = appendBackward(b, y, dyIn, wrtIds);
  b.output('y', y);
  wrtNames.forEach((name, k) => {
    const g = grads.get(wrtIds[k]);
    if (!g) throw new Error(`no gradient reached input '${name}'`);
    b.output(`grad_${name}`, g);
  });
  validate(b.graph, opSchemas);

  const dy = randomTensor(y.type.shape, 4242);
  const allFeeds = { ...feeds, __dy: dy };
  const cpu64 = new CpuExecutor('f64');
  const analytic = cpu64.runSync(b.graph, allFeeds, new Map());
  const eps = opts.eps ?? 1e-6, rel = opts.rel ?? 1e-6, abs = opts.abs ?? 1e-7;
  const loss = (f: Record<string, HostTensor>): number => {
    const out = cpu64.runSync(b.graph, { ...f, __dy: dy }, new Map(), ['y']).get('y')!;
    let s = 0;
    for (let i = 0; i < out.data.length; i++) s += out.data[i] * dy.data[i];
    return s;
  };
  for (const name of wrtNames) {
    const x = feeds[name];
    const g = analytic.get(`grad_${name}`)!;
    const n = x.data.length;
    const count = Math.min(n, opts.maxElements ?? 48);
    for (let c = 0; c < count; c++) {
      const k = Math.floor((c * n) / count);
      const plus = Float64Array.from(x.data); plus[k] += eps;
      const minus = Float64Array.from(x.data); minus[k] -= eps;
      const fd = (loss({ ...feeds, [name]: { ...x, data: plus } }) - loss({ ...feeds, [name]: { ...x, data: minus } })) / (2 * eps);
      const a = g.data[k];
      const tol = rel * Math.max(Math.abs(fd), Math.abs(a)) + abs;
      expect(Math.abs(a - fd), `d/d${name}[${k}]: analytic ${a} vs finite difference ${fd}`).to.be.at.most(tol);
    }
  }
  if (opts.skipGpu) return;
  const cpu32 = new CpuExecutor('f32').runSync(b.graph, allFeeds, new Map());
  const dev = await new GpuExecutor(await gpu()).run(b.graph, allFeeds, new Map());
  for (const [name, t] of cpu32) expectClose(dev.get(name)!, t, { rel: opts.gpuRel ?? 1e-4, abs: opts.gpuAbs ?? 1e-5 }, `webgpu ${name}`);
}
