// Opening the WebGPU device for a command, with every way of finding no adapter reported as
// NoAdapterError (install help, exit 2), and the device always released so node can exit.

import { createRuntime, GpuTimeoutError, NoAdapterError, type GpuContext, type Runtime } from '../runtime/index.js';

/**
 * Acquires the device through the runtime container. Dawn reports a missing driver as a null
 * adapter (GpuContext turns that into NoAdapterError) but an adapter filter that matches
 * nothing (PROMPTGRAPH_ADAPTER) as a rejected requestAdapter: both mean "no adapter" here.
 */
export async function acquireGpu(runtime: Runtime): Promise<GpuContext> {
  try {
    return await runtime.gpu();
  } catch (e) {
    if (e instanceof NoAdapterError || e instanceof GpuTimeoutError || !(e instanceof Error)) throw e;
    const chosen = ['PROMPTGRAPH_BACKEND', 'PROMPTGRAPH_ADAPTER'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`);
    throw new NoAdapterError(`${chosen.length ? `with ${chosen.join(' ')}: ` : ''}Dawn: ${e.message}`);
  }
}

/** Runs `fn` with a WebGPU runtime and its device, releasing the device afterwards. */
export async function withGpu<T>(fn: (ctx: GpuContext, runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = createRuntime({ executor: 'webgpu' });
  try {
    return await fn(await acquireGpu(runtime), runtime);
  } finally {
    runtime.dispose();
  }
}
