// Test helpers: run a graph on both executors and compare within a tolerance.
import { expect } from 'chai';
import { Graph, GraphBuilder, type KernelTarget, CpuExecutor, GpuExecutor, type HostTensor, type Ref, type ParamStore, type Feeds, validate, opSchemas } from '../src/index.js';
import { gpu } from './setup.js';

export interface Tolerance { rel?: number; abs?: number }

/** Asserts every element agrees: |a-b| <= abs + rel*|b|, NaN matching NaN and infinities matching exactly. */
export function expectClose(actual: HostTensor, expected: HostTensor, tol: Tolerance = {}, what = 'tensor'): void {
  expect([...actual.shape], `${what} shape`).to.deep.equal([...expected.shape]);
  expect(actual.dtype, `${what} dtype`).to.equal(expected.dtype);
  const rel = tol.rel ?? 1e-5, abs = tol.abs ?? 1e-6;
  let worst = -1, worstErr = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i], e = expected.data[i];
    if (Number.isNaN(e) || Number.isNaN(a) || !Number.isFinite(e) || !Number.isFinite(a)) {
      if (!(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)) || a === e)) {
        expect.fail(`${what}[${i}]: got ${a}, expected ${e}`);
      }
      continue;
    }
    const err = Math.abs(a - e) - (abs + rel * Math.abs(e));
    if (err > worstErr) { worstErr = err; worst = i; }
  }
  if (worst >= 0) expect.fail(`${what}[${worst}]: got ${actual.data[worst]}, expected ${expected.data[worst]} (rel tol ${rel}, abs tol ${abs})`);
}

/**
 * Builds a one-output graph, runs it on the CPU reference (f32) and on WebGPU, compares.
 * `target` overrides the kernel target, e.g. `{ kind: 'gpu' }` to run the hardware variants on lavapipe.
 */
export async function checkAgainstReference(
  build: (b: GraphBuilder) => Ref,
  feeds: Feeds,
  tol: Tolerance = {},
  params: ParamStore = new Map(),
  target?: Partial<KernelTarget>,
): Promise<{ gpu: HostTensor; cpu: HostTensor; graph: Graph }> {
  const b = new GraphBuilder();
  b.output('y', build(b));
  validate(b.graph, opSchemas);
  const cpu = (await new CpuExecutor('f32').run(b.graph, feeds, params)).get('y')!;
  const ctx = await gpu();
  const out = (await new GpuExecutor(ctx, { ...ctx.target, ...target }).run(b.graph, feeds, params)).get('y')!;
  expectClose(out, cpu, tol, 'webgpu vs cpu');
  return { gpu: out, cpu, graph: b.graph };
}
