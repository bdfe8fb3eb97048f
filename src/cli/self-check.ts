// The self-check shared by `doctor` and `demo`: small graphs run on the CPU reference executor
// and on WebGPU, compared element by element. Checks whose ops are not registered yet are
// skipped, so the check works while ops are still being added.

import { formatType, validate } from '../graph/index.js';
import { GraphBuilder, hasOp, opSchemas, randomTensor, type HostTensor, type Ref } from '../ops/index.js';
import { CpuExecutor, type Executor } from '../runtime/index.js';
import { compareTensors, DEFAULT_TOLERANCE, formatTolerance, type Tolerance } from './compare.js';

export interface SelfCheck {
  readonly name: string;
  /** Ops the graph uses besides sources; the check is skipped if one is not registered. */
  readonly ops: readonly string[];
  readonly feeds: Readonly<Record<string, HostTensor>>;
  build(b: GraphBuilder, x: (name: string) => Ref): Ref;
}

export type CheckStatus = 'ok' | 'mismatch' | 'error' | 'skipped';

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly maxAbsError?: number;
  /** Share of the tolerance the worst element used (<= 1 passes). */
  readonly toleranceUsed?: number;
  /** Why a check was skipped, failed or errored. */
  readonly detail?: string;
}

const x357 = randomTensor([3, 5, 7], 1, { scale: 2 });
const y51 = randomTensor([5, 1], 2, { scale: 2 });
const x433 = randomTensor([4, 33], 3, { scale: 2 });

export const SELF_CHECKS: readonly SelfCheck[] = [
  { name: 'add f32[3,5,7] + f32[5,1] (broadcast)', ops: ['add'], feeds: { x: x357, y: y51 }, build: (b, x) => b.add(x('x'), x('y')) },
  { name: 'exp f32[4,33]', ops: ['exp'], feeds: { x: x433 }, build: (b, x) => b.exp(x('x')) },
  { name: 'gelu f32[4,33]', ops: ['gelu'], feeds: { x: x433 }, build: (b, x) => b.gelu(x('x')) },
  {
    name: 'matmul f32[17,33] x f32[33,9]', ops: ['matmul'],
    feeds: { a: randomTensor([17, 33], 4), w: randomTensor([33, 9], 5, { scale: 0.2 }) },
    build: (b, x) => b.matmul(x('a'), x('w')),
  },
  {
    name: 'reduce_sum f32[6,37] over axis 1', ops: ['reduce_sum'],
    feeds: { x: randomTensor([6, 37], 10) }, build: (b, x) => b.sum(x('x'), [1]),
  },
  { name: 'softmax f32[5,37]', ops: ['softmax'], feeds: { x: randomTensor([5, 37], 6, { scale: 3 }) }, build: (b, x) => b.softmax(x('x')) },
  {
    name: 'layernorm f32[6,40]', ops: ['layernorm'],
    feeds: { x: randomTensor([6, 40], 7, { scale: 2 }), g: randomTensor([40], 8), beta: randomTensor([40], 9) },
    build: (b, x) => b.layernorm(x('x'), x('g'), x('beta'), 1e-5),
  },
];

/** Runs one check on the CPU reference (f32) and on `gpu`; never throws. */
export async function runCheck(check: SelfCheck, gpu: Executor, tol: Tolerance = DEFAULT_TOLERANCE): Promise<CheckResult> {
  const missing = check.ops.filter((op) => !hasOp(op));
  if (missing.length) return { name: check.name, status: 'skipped', detail: `op ${missing.join(', ')} not registered yet` };
  try {
    const b = new GraphBuilder();
    const refs = new Map(Object.entries(check.feeds).map(([k, v]) => [k, b.input(k, v.shape, v.dtype)]));
    b.output('y', check.build(b, (name) => refs.get(name)!));
    validate(b.graph, opSchemas);
    const cpu = (await new CpuExecutor('f32').run(b.graph, check.feeds, new Map())).get('y')!;
    const dev = (await gpu.run(b.graph, check.feeds, new Map())).get('y')!;
    const c = compareTensors(dev, cpu, tol);
    return {
      name: check.name, status: c.ok ? 'ok' : 'mismatch', maxAbsError: c.maxAbsError, toleranceUsed: c.toleranceUsed,
      ...(c.problem ? { detail: `${c.problem} (outside ${formatTolerance(tol)}; result ${formatType(cpu)})` } : {}),
    };
  } catch (e) {
    return { name: check.name, status: 'error', detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

export async function runSelfCheck(gpu: Executor, checks: readonly SelfCheck[] = SELF_CHECKS): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const c of checks) out.push(await runCheck(c, gpu));
  return out;
}

export function allAgree(results: readonly CheckResult[]): boolean {
  return results.every((r) => r.status === 'ok' || r.status === 'skipped');
}

/** `6 checks agree, 2 skipped (op ... not registered yet)`, or what disagreed. */
export function summarize(results: readonly CheckResult[]): string {
  const ok = results.filter((r) => r.status === 'ok').length;
  const skipped = results.filter((r) => r.status === 'skipped');
  const bad = results.filter((r) => r.status === 'mismatch' || r.status === 'error');
  const skipNote = skipped.length ? `, ${skipped.length} skipped (${skipped.map((r) => r.name.split(' ')[0]).join(', ')}: not registered yet)` : '';
  if (bad.length) return `${bad.length} of ${ok + bad.length} checks FAILED (${bad.map((r) => r.name.split(' ')[0]).join(', ')})${skipNote}`;
  return `${ok} of ${ok} checks agree${skipNote}`;
}
