// Every wait on the device is bounded, so a stuck driver becomes an error, never a hang.

import { GpuTimeoutError } from './errors.js';

export const DEFAULT_GPU_TIMEOUT_MS = Number(process.env.PROMPTGRAPH_GPU_TIMEOUT_MS ?? 120_000);

export async function bounded<T>(p: Promise<T>, what: string, ms = DEFAULT_GPU_TIMEOUT_MS, abort?: Promise<never>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GpuTimeoutError(`${what} did not finish within ${ms} ms (set PROMPTGRAPH_GPU_TIMEOUT_MS to change)`)), ms);
  });
  try {
    return await Promise.race(abort ? [p, timeout, abort] : [p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
