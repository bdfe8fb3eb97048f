// Probes for a WebGPU adapter through Dawn (npm `webgpu`) and prints its description.
// Exit status: 0 an adapter was found, 1 none, 3 the `webgpu` package cannot be loaded.
// Honours PROMPTGRAPH_BACKEND and PROMPTGRAPH_ADAPTER like the runtime (src/runtime/gpu.ts).

process.env.XDG_RUNTIME_DIR ??= '/tmp';
let webgpu;
try {
  webgpu = await import('webgpu');
} catch (e) {
  console.error(`cannot load the npm package 'webgpu' (run npm ci first): ${e.message}`);
  process.exit(3);
}
const flags = [];
if (process.env.PROMPTGRAPH_BACKEND) flags.push(`backend=${process.env.PROMPTGRAPH_BACKEND}`);
if (process.env.PROMPTGRAPH_ADAPTER) flags.push(`adapter=${process.env.PROMPTGRAPH_ADAPTER}`);

let gpu = null;
let adapter = null;
let reason = 'requestAdapter() returned null (no usable Vulkan driver)';
const timeoutMs = 60_000;
let timer;
try {
  gpu = webgpu.create(flags);
  // A wedged driver must not hang set-up: the wait is bounded.
  adapter = await Promise.race([
    gpu.requestAdapter(),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`requestAdapter() did not answer within ${timeoutMs} ms`)), timeoutMs); }),
  ]);
} catch (e) {
  reason = e.message;
} finally {
  clearTimeout(timer);
}
const found = adapter !== null && adapter !== undefined;
if (found) {
  const i = adapter.info;
  console.log(`${i.description || i.device} (vendor ${i.vendor || '?'}, architecture ${i.architecture || '?'})`);
} else {
  console.log(`no WebGPU adapter: ${reason}`);
}
// Dawn keeps node alive while the instance is referenced: drop it so the process exits.
adapter = null;
gpu = null;
process.exitCode = found ? 0 : 1;
