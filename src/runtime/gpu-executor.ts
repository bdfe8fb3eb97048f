// Runs a graph on the WebGPU device, one kernel per node, all dispatches in one command
// encoder; buffers go back to the pool after their last reader. (The compiler's programs add
// fusion and a static memory plan on top of this.)

import { numel, SOURCE_OPS, type Graph, type Node } from '../graph/index.js';
import { decodeAttrs, getOp, type Kernel, type KernelTarget } from '../ops/registry.js';
import type { HostTensor } from '../ops/host.js';
import type { GpuContext, GpuTensor } from './gpu.js';
import { requestedOutputs, sourceValue, type Executor, type Feeds, type ParamStore } from './executor.js';

export interface PreparedKernel {
  readonly node: Node;
  readonly kernel: Kernel;
  readonly pipeline: GPUComputePipeline;
}

/** Generates and compiles the kernel for each computing node (pipelines are cached by source). */
export async function prepareKernels(ctx: GpuContext, graph: Graph, target: KernelTarget = ctx.target): Promise<Map<number, PreparedKernel>> {
  const out = new Map<number, PreparedKernel>();
  await Promise.all(graph.nodes.filter((n) => !SOURCE_OPS.has(n.op)).map(async (n) => {
    const def = getOp(n.op);
    if (!def.kernel) throw new Error(`op '${n.op}' has no WGSL kernel`);
    const kernel = def.kernel({
      inputs: n.inputs.map((i) => graph.node(i).type),
      output: n.type,
      attrs: decodeAttrs(def, n.attrs, `${n.op} node %${n.id}`),
      target,
    });
    const pipeline = await ctx.pipeline(kernel.code, n.inputs.length + 1, `${kernel.variant} %${n.id}@${n.scope}`);
    out.set(n.id, { node: n, kernel, pipeline });
  }));
  return out;
}

export class GpuExecutor implements Executor {
  readonly kind = 'webgpu' as const;

  /** `target` overrides what kernels are generated for (tests use it to run every variant). */
  constructor(readonly ctx: GpuContext, readonly target: KernelTarget = ctx.target) {}

  async run(graph: Graph, feeds: Feeds, params: ParamStore, outputs?: readonly string[]): Promise<Map<string, HostTensor>> {
    const ctx = this.ctx;
    const kernels = await prepareKernels(ctx, graph, this.target);
    const wanted = requestedOutputs(graph, outputs);
    const keep = new Set(wanted.map(([, id]) => id));
    const lastUse = new Map<number, number>();
    graph.nodes.forEach((n, i) => n.inputs.forEach((x) => lastUse.set(x, i)));
    const buffers = new Map<number, GpuTensor>();
    try {
      // Uploads are queued before the pass runs, so source buffers must not be recycled
      // while recording: they are all written first and freed only at the end.
      for (const n of graph.nodes) if (SOURCE_OPS.has(n.op)) buffers.set(n.id, ctx.upload(sourceValue(n, feeds, params)));
      await ctx.submit((pass) => {
        graph.nodes.forEach((n, i) => {
          if (SOURCE_OPS.has(n.op)) return;
          const out = ctx.allocate(n.type);
          buffers.set(n.id, out);
          const k = kernels.get(n.id)!;
          if (numel(n.type.shape) > 0) {
            pass.setPipeline(k.pipeline);
            pass.setBindGroup(0, ctx.bindGroup(n.inputs.length + 1, [...n.inputs.map((x) => buffers.get(x)!.buffer), out.buffer]));
            pass.dispatchWorkgroups(...k.kernel.workgroups);
          }
          // Later dispatches in the same pass see earlier writes, so a buffer may be reused as
          // soon as its last reader has been recorded.
          for (const x of n.inputs) {
            if (lastUse.get(x) === i && !keep.has(x) && !SOURCE_OPS.has(graph.node(x).op)) {
              ctx.free(buffers.get(x)!);
              buffers.delete(x);
            }
          }
        });
      }, 'graph');
      const results = await ctx.downloadMany(wanted.map(([, id]) => buffers.get(id)!));
      return new Map(wanted.map(([name], i) => [name, results[i]]));
    } finally {
      for (const b of buffers.values()) ctx.free(b);
    }
  }
}
