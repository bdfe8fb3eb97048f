// toAsyncIterator: the pulling end of a pipeline, for a consumer that awaits each step.
// It subscribes upstream inside a pull context whose room is `highWaterMark + pending next() calls`:
// with the default highWaterMark 0, sources are pulled only while the consumer is waiting, so
// nothing piles up however slow the consumer. It also keeps the pipeline's DataPosition and, given
// `resumeFrom`, replays and drops the items already delivered (see position.ts).

import type { Observable, Subscription } from 'rxjs';
import { runInPullContext, type PullContext } from './context.js';
import { PositionRecorder, sameSnapshot, type DataPosition, type Snapshot } from './position.js';
import { Signal } from './signal.js';

export interface PullOptions {
  /** Items produced ahead of the consumer's requests (default 0: pure pull). Bursts from stages
   *  that flush at the end (shuffle, bucketing) may briefly exceed it by their own buffer size. */
  highWaterMark?: number;
  /** Continue from a saved position: the first `delivered` items are replayed and dropped. */
  resumeFrom?: DataPosition;
}

export interface PullIterator<T> extends AsyncIterableIterator<T> {
  /** Where the pipeline stands after the items delivered so far (JSON-serializable). */
  position(): DataPosition;
  /** Items produced but not yet taken by the consumer. */
  readonly buffered: number;
  return(): Promise<IteratorResult<T, undefined>>;
}

interface Item<T> {
  readonly value: T;
  readonly snap: Snapshot;
}

export function toAsyncIterator<T>(source: Observable<T>, opts: PullOptions = {}): PullIterator<T> {
  const hwm = Math.max(0, opts.highWaterMark ?? 0);
  const resume = opts.resumeFrom;
  const recorder = new PositionRecorder();
  const buffer: Item<T>[] = [];
  const room = new Signal();
  const arrived = new Signal();
  let waiting = 0;
  let toSkip = resume?.delivered ?? 0;
  let delivered = toSkip;
  let last: Snapshot = resume ?? { sourceConsumed: 0, shuffleRng: [] };
  let completed = false;
  let failure: { readonly err: unknown } | null = null;
  let closed = false;
  let sub: Subscription | null = null;

  const ctx: PullContext = {
    recorder,
    waitForRoom: () => (buffer.length < hwm + waiting ? null : room.wait()),
  };

  const fail = (err: unknown): void => {
    failure ??= { err };
    sub?.unsubscribe();
    arrived.notify();
  };

  const start = (): void => {
    if (sub || closed) return;
    sub = runInPullContext(ctx, () =>
      source.subscribe({
        next: (value) => {
          const snap = recorder.snapshot();
          if (toSkip > 0) {
            toSkip--;
            if (toSkip === 0 && resume && !sameSnapshot(snap, resume)) {
              fail(new Error(`resume: replay reached sources at ${JSON.stringify(snap)} after ${resume.delivered} items, the saved position says ${JSON.stringify({ sourceConsumed: resume.sourceConsumed, shuffleRng: resume.shuffleRng })}; the data, seed or pipeline settings changed`));
            }
            return;
          }
          buffer.push({ value, snap });
          arrived.notify();
        },
        error: (err: unknown) => fail(err),
        complete: () => {
          if (toSkip > 0 && resume) fail(new Error(`resume: the data ended after ${resume.delivered - toSkip} items, the saved position is at ${resume.delivered}`));
          completed = true;
          arrived.notify();
        },
      }),
    );
    if (failure || closed) sub.unsubscribe(); // failed or closed during a synchronous subscribe
  };

  const close = (): void => {
    closed = true;
    buffer.length = 0;
    sub?.unsubscribe();
    room.notify();
    arrived.notify();
  };

  const iterator: PullIterator<T> = {
    async next(): Promise<IteratorResult<T, undefined>> {
      waiting++;
      try {
        start();
        for (;;) {
          if (closed) return { done: true, value: undefined };
          const item = buffer.shift();
          if (item) {
            delivered++;
            last = item.snap;
            room.notify();
            return { done: false, value: item.value };
          }
          if (failure) {
            close();
            throw failure.err;
          }
          if (completed) return { done: true, value: undefined };
          room.notify(); // a new request is room for one more
          await arrived.wait();
        }
      } finally {
        waiting--;
      }
    },
    async return(): Promise<IteratorResult<T, undefined>> {
      close();
      return { done: true, value: undefined };
    },
    position: () => ({ version: 1, delivered, sourceConsumed: last.sourceConsumed, shuffleRng: [...last.shuffleRng] }),
    get buffered() {
      return buffer.length;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
