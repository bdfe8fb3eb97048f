// Mocha root hooks: one WebGPU device shared by all tests, released at the end so the process exits.
import { GpuContext } from '../src/runtime/index.js';

let ctx: Promise<GpuContext> | undefined;

/** The shared device (lavapipe in CI). Tests that need it fail, with install help, if there is none. */
export function gpu(): Promise<GpuContext> {
  ctx ??= GpuContext.acquire();
  return ctx;
}

export const mochaHooks = {
  async afterAll(): Promise<void> {
    if (ctx) (await ctx.catch(() => undefined))?.release();
  },
};
