// `promptgraph doctor`: which adapter Dawn gives us, its limits and features, and whether the
// kernels agree with the CPU reference on it.

import type { KernelTarget } from '../ops/index.js';
import type { AdapterDescription } from '../runtime/index.js';
import { NoAdapterError } from '../runtime/index.js';
import { EXIT, type Command, type Io } from './command.js';
import { formatError, formatShare, formatTolerance } from './compare.js';
import { withGpu } from './gpu.js';
import { allAgree, runSelfCheck, summarize, type CheckResult } from './self-check.js';

export interface DoctorReport {
  readonly adapter: Omit<AdapterDescription, 'features' | 'limits'> & { readonly backend: string };
  readonly target: KernelTarget;
  readonly features: readonly string[];
  readonly limits: Readonly<Record<string, number>>;
  readonly checks: readonly CheckResult[];
  readonly ok: boolean;
}

/** Dawn does not report the backend of an adapter; we know it only when it was chosen. */
function backendOf(): string {
  const chosen = process.env.PROMPTGRAPH_BACKEND;
  if (chosen) return `${chosen} (PROMPTGRAPH_BACKEND)`;
  return process.platform === 'linux' ? "not reported by Dawn (its default on Linux is Vulkan)" : 'not reported by Dawn';
}

export async function doctorReport(): Promise<DoctorReport> {
  return withGpu(async (ctx, runtime) => {
    const { features, limits, ...adapter } = ctx.adapter;
    const checks = await runSelfCheck(await runtime.executor());
    return {
      adapter: { ...adapter, backend: backendOf() }, target: ctx.target,
      features: [...features].sort(), limits, checks, ok: allAgree(checks),
    };
  });
}

export function formatReport(r: DoctorReport): string {
  const a = r.adapter;
  const row = (k: string, v: string) => `  ${k.padEnd(14)}${v}`;
  const lines = [
    'adapter',
    row('name', a.name),
    row('vendor', a.vendor || '(not reported)'),
    row('architecture', a.architecture || '(not reported)'),
    row('description', a.description || '(not reported)'),
    row('type', a.software ? 'software (runs on the CPU)' : 'hardware'),
    row('backend', a.backend),
    row('kernels for', `${r.target.kind === 'cpu' ? 'software' : 'hardware'} adapters; f16 ${r.target.f16 ? 'yes' : 'no'}, subgroups ${r.target.subgroups ? 'yes' : 'no'}`),
    '',
    `features (${r.features.length})`,
    ...wrap(r.features.join(', '), 96).map((l) => `  ${l}`),
    '',
    `limits (${Object.keys(r.limits).length})`,
  ];
  const keys = Object.keys(r.limits).sort();
  const width = Math.max(...keys.map((k) => k.length));
  for (const k of keys) lines.push(`  ${k.padEnd(width)}  ${r.limits[k]}`);
  lines.push('', `self-check: WebGPU vs CPU reference, agreeing when ${formatTolerance()} for every element`);
  lines.push(...formatChecks(r.checks));
  lines.push('', r.ok ? `OK: ${summarize(r.checks)}` : `FAILED: ${summarize(r.checks)}`);
  return lines.join('\n');
}

export function formatChecks(checks: readonly CheckResult[]): string[] {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => {
    const tag = { ok: 'ok      ', mismatch: 'MISMATCH', error: 'ERROR   ', skipped: 'skip    ' }[c.status];
    const errs = c.maxAbsError === undefined ? '' : `max abs err ${formatError(c.maxAbsError).padEnd(7)}  worst element used ${formatShare(c.toleranceUsed ?? 0)} of the tolerance`;
    const detail = c.detail ? `${errs ? '  ' : ''}${c.detail}` : '';
    return `  ${tag} ${c.name.padEnd(width)}  ${errs}${detail}`.trimEnd();
  });
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) { out.push(line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

export const doctor: Command = {
  name: 'doctor',
  summary: 'show the WebGPU adapter, its limits and features, and check kernels against the CPU reference',
  help: `Usage: promptgraph doctor [--json]

Prints the WebGPU adapter Dawn chose (name, vendor, architecture, software or hardware,
backend when known), its limits and features, then runs small graphs (add with broadcasting,
exp, gelu, and matmul, reduce_sum, softmax, layernorm once those ops are registered) on the
CPU reference executor and on WebGPU and compares them element by element.

Options:
  --json      print the same report as JSON
  -h, --help  show this help

Exit status: 0 all checks agree, 1 a check disagreed or failed, 2 no WebGPU adapter.`,
  options: { json: { type: 'boolean' } },
  positionals: { min: 0, max: 0 },
  async run(args, io: Io) {
    let report: DoctorReport;
    try {
      report = await doctorReport();
    } catch (e) {
      if (e instanceof NoAdapterError && args.values.json) {
        io.err(e.message);
        io.out(JSON.stringify({ ok: false, error: 'no-adapter', message: e.message }, null, 2));
        return EXIT.noAdapter;
      }
      throw e;
    }
    io.out(args.values.json ? JSON.stringify(report, jsonNumbers, 2) : formatReport(report));
    return report.ok ? EXIT.ok : EXIT.failure;
  },
};

/** JSON has no Infinity/NaN: write them as strings rather than null. */
function jsonNumbers(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}
