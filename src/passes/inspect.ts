// inspect: what a compiled (or plain) graph costs: per-node FLOPs, bytes, shapes and marks,
// and a summary (parameters, step FLOPs by phase, kernels, memory). The CLI prints this; the
// library returns the same data.

import { formatType, numel, printGraph, type Graph, type Node } from '../graph/index.js';
import { decodeAttrs, getOp } from '../ops/index.js';
import { GRAD_SCOPE } from './autodiff.js';
import { OPTIM_SCOPE } from './optimizer.js';
import type { Compiled } from './compile.js';
import { planMemory } from './memory.js';

export type Phase = 'source' | 'forward' | 'backward' | 'optimizer';

export interface NodeReport {
  readonly id: number;
  readonly op: string;
  readonly scope: string;
  readonly type: string;
  readonly phase: Phase;
  readonly flops: number;
  readonly bytes: number;
  readonly trainable?: boolean;
}

export interface Summary {
  readonly parameters: number;
  readonly trainableParameters: number;
  readonly trainablePercent: number;
  readonly flops: { readonly forward: number; readonly backward: number; readonly optimizer: number; readonly total: number };
  readonly kernels: number;
  readonly peakBytes: number;
  readonly unplannedBytes: number;
}

export interface Report {
  readonly nodes: readonly NodeReport[];
  readonly summary: Summary;
}

export function phaseOf(n: Node): Phase {
  if (n.op === 'input' || n.op === 'param') return 'source';
  const top = n.scope.split('.')[0];
  return top === GRAD_SCOPE ? 'backward' : top === OPTIM_SCOPE ? 'optimizer' : 'forward';
}

/** Parameters count only the model's own (optimizer state and folded constants excluded). */
function isModelParam(n: Node): boolean {
  const name = String(n.attrs.name);
  return n.op === 'param' && !name.startsWith(`${OPTIM_SCOPE}.`) && !name.startsWith('folded.');
}

export function inspectGraph(graph: Graph): Report {
  const nodes = graph.nodes.map((n): NodeReport => {
    const def = getOp(n.op);
    const cost = def.cost(n.inputs.map((i) => graph.node(i).type), n.type, decodeAttrs(def, n.attrs, `%${n.id}`));
    const r: NodeReport = { id: n.id, op: n.op, scope: n.scope, type: formatType(n.type), phase: phaseOf(n), flops: cost.flops, bytes: cost.bytes };
    return n.op === 'param' ? { ...r, trainable: n.attrs.trainable === true } : r;
  });
  const params = graph.nodes.filter(isModelParam);
  const total = params.reduce((s, p) => s + numel(p.type.shape), 0);
  const trainable = params.filter((p) => p.attrs.trainable === true).reduce((s, p) => s + numel(p.type.shape), 0);
  const sum = (phase: Phase): number => nodes.filter((n) => n.phase === phase).reduce((s, n) => s + n.flops, 0);
  const plan = planMemory(graph);
  const flops = { forward: sum('forward'), backward: sum('backward'), optimizer: sum('optimizer'), total: 0 };
  flops.total = flops.forward + flops.backward + flops.optimizer;
  return {
    nodes,
    summary: {
      parameters: total,
      trainableParameters: trainable,
      trainablePercent: total ? (100 * trainable) / total : 0,
      flops,
      kernels: nodes.filter((n) => n.phase !== 'source').length,
      peakBytes: plan.peakBytes,
      unplannedBytes: plan.unplannedBytes,
    },
  };
}

export function inspectCompiled(c: Compiled): Report {
  return inspectGraph(c.graph);
}

export function formatCount(n: number): string {
  const units = ['', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${i ? n.toFixed(2) : n}${units[i]}`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

/** The graph's text form with each node's FLOPs and bytes, then the summary. */
export function formatReport(graph: Graph, report: Report = inspectGraph(graph)): string {
  const byId = new Map(report.nodes.map((n) => [n.id, n]));
  const text = printGraph(graph, {
    annotate: (n) => {
      const r = byId.get(n.id)!;
      return `${r.phase} ${formatCount(r.flops)}FLOP ${formatBytes(r.bytes)}`;
    },
  });
  return `${text}\n${formatSummary(report.summary)}`;
}

export function formatSummary(s: Summary): string {
  return [
    `parameters: ${formatCount(s.parameters)} total, ${formatCount(s.trainableParameters)} trainable (${s.trainablePercent.toFixed(3)}%)`,
    `step FLOPs: ${formatCount(s.flops.total)} (forward ${formatCount(s.flops.forward)}, backward ${formatCount(s.flops.backward)}, optimizer ${formatCount(s.flops.optimizer)})`,
    `kernels: ${s.kernels}`,
    `memory: peak ${formatBytes(s.peakBytes)} planned (${formatBytes(s.unplannedBytes)} if every value had its own buffer)`,
  ].join('\n');
}
