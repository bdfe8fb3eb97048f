// The pull context: how a consumer's demand reaches the sources (see the design note in index.ts).
// A pulling stage (toAsyncIterator, prefetch) subscribes upstream inside runInPullContext; every
// pullable source subscribed under it — synchronously by ordinary operators, or later from its
// async continuations — finds the context through AsyncLocalStorage and waits for room before
// each pull. Nothing has to be threaded through operator arguments.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { PositionRecorder } from './position.js';

export interface PullContext {
  /** null when the consumer has room for another item now; else resolves when room may have opened. */
  waitForRoom(): Promise<void> | null;
  readonly recorder: PositionRecorder;
}

const storage = new AsyncLocalStorage<PullContext>();

export function currentPullContext(): PullContext | undefined {
  return storage.getStore();
}

export function runInPullContext<R>(ctx: PullContext, fn: () => R): R {
  return storage.run(ctx, fn);
}

/** Runs `fn` outside any pull context: for a side pipeline subscribed from inside another
 *  pipeline's callbacks that must not be paced by (or counted in) the outer consumer. */
export function detached<R>(fn: () => R): R {
  return storage.exit(fn);
}
