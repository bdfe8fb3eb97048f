// Per-kernel timing of a compiled graph: each kernel is submitted alone and waited for, so the
// numbers include a submit round trip (~0.2 ms on lavapipe) but show where a step's time goes.

import type { Compiled } from '../passes/compile.js';
import type { Feeds, ParamStore } from '../ops/host.js';
import { sourceValue } from '../ops/evaluate.js';
import type { GpuContext, GpuTensor } from './gpu.js';

export interface KernelTiming {
  readonly id: number;
  readonly op: string;
  readonly scope: string;
  readonly variant: string;
  readonly ms: number;
}

export async function profileKernels(ctx: GpuContext, compiled: Compiled, feeds: Feeds, params: ParamStore): Promise<KernelTiming[]> {
  const g = compiled.graph;
  const buffers = new Map<number, GpuTensor>();
  const out: KernelTiming[] = [];
  try {
    for (const n of g.nodes) {
      if (n.op === 'input' || n.op === 'param') {
        buffers.set(n.id, ctx.upload(sourceValue(n, feeds, new Map([...compiled.params, ...params]))));
        continue;
      }
      const view = compiled.plan.viewOf.get(n.id);
      if (view !== undefined) {
        buffers.set(n.id, buffers.get(view)!);
        continue;
      }
      const k = compiled.kernels.get(n.id)!;
      const pipeline = await ctx.pipeline(k.code, n.inputs.length + 1, k.variant);
      const result = ctx.allocate(n.type);
      buffers.set(n.id, result);
      const bind = ctx.bindGroup(n.inputs.length + 1, [...n.inputs.map((i) => buffers.get(i)!.buffer), result.buffer]);
      await ctx.sync();
      const t0 = performance.now();
      await ctx.submit((pass) => {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bind);
        pass.dispatchWorkgroups(...k.workgroups);
      }, k.variant);
      await ctx.sync();
      out.push({ id: n.id, op: n.op, scope: n.scope, variant: k.variant, ms: performance.now() - t0 });
    }
  } finally {
    for (const [id, b] of buffers) if (!compiled.plan.viewOf.has(id)) ctx.free(b);
  }
  return out;
}
