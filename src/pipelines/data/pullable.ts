// pullable(): the one way sources become Observables. It pulls its iterator one item at a time and,
// under a pull context, waits for the consumer's room before each pull, so a source never runs
// ahead of demand. fromArray and fromGenerator are thin names over it; the file sources build on it.

import { Observable } from 'rxjs';
import { currentPullContext } from './context.js';

export type PullSource<T> = AsyncIterable<T> | Iterable<T>;

/** Without a pull context (a plain subscribe) a source yields to the event loop this often, so a
 *  large synchronous source cannot starve timers and I/O. */
const YIELD_EVERY = 256;

export function pullable<T>(open: () => PullSource<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const ctx = currentPullContext();
    let stopped = false;
    let iterator: AsyncIterator<T> | Iterator<T> | undefined;
    const run = async (): Promise<void> => {
      iterator = iteratorOf(open());
      let free = 0;
      for (;;) {
        if (stopped) return;
        const wait = ctx?.waitForRoom() ?? null;
        if (wait) {
          free = 0;
          await wait;
          continue; // room may have been taken again meanwhile: re-check
        }
        if (++free >= YIELD_EVERY) {
          free = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (stopped) return;
        }
        const r = await iterator.next();
        if (stopped) return;
        if (r.done) {
          subscriber.complete();
          return;
        }
        if (ctx) ctx.recorder.sourceConsumed++;
        subscriber.next(r.value);
      }
    };
    run().catch((err: unknown) => {
      if (!stopped) subscriber.error(err);
    });
    return () => {
      stopped = true;
      // Closes files early when the consumer stops; errors on close have nowhere useful to go.
      void Promise.resolve(iterator?.return?.()).catch(() => undefined);
    };
  });
}

function iteratorOf<T>(src: PullSource<T>): AsyncIterator<T> | Iterator<T> {
  if (Symbol.asyncIterator in src) return src[Symbol.asyncIterator]();
  return src[Symbol.iterator]();
}

/** Emits the items of an array (or any iterable) under the pull protocol. */
export function fromArray<T>(items: Iterable<T>): Observable<T> {
  return pullable(() => items);
}

/** Emits what a (sync or async) generator function yields; `fn` is called anew per subscription,
 *  which is what makes replay-based resume possible. */
export function fromGenerator<T>(fn: () => PullSource<T>): Observable<T> {
  return pullable(fn);
}
