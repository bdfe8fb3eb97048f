// Runtime failures, each with a message a user can act on.

export const INSTALL_HELP = [
  'No WebGPU adapter was found: Dawn needs a Vulkan (or Metal/D3D12) driver.',
  'On Debian 12 as root, install the software Vulkan driver (Mesa 25 lavapipe) with:',
  '  bash scripts/setup-webgpu.sh',
  'which runs:',
  '  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/backports.list',
  '  apt-get update && apt-get install -y libvulkan1 && apt-get install -y -t bookworm-backports mesa-vulkan-drivers',
  "Elsewhere install your GPU's Vulkan driver (or Mesa >= 24 lavapipe: package mesa-vulkan-drivers) and the Vulkan loader (libvulkan1).",
  "Debian 12's own Mesa 22 lavapipe is rejected by Dawn. Check with: npx promptgraph doctor",
].join('\n');

export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
  constructor(detail?: string) {
    super(detail ? `${INSTALL_HELP}\n(${detail})` : INSTALL_HELP);
  }
}

export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
}

export class GpuTimeoutError extends Error {
  override name = 'GpuTimeoutError';
}

/** WGSL that failed to compile: the compiler's messages and the numbered source. */
export class KernelCompileError extends Error {
  override name = 'KernelCompileError';
}

/** A validation error raised by Dawn for work we submitted. */
export class GpuValidationError extends Error {
  override name = 'GpuValidationError';
}
