// prefetch(n): a pulling stage in the middle of a pipeline. It keeps up to n items made ahead of
// its consumer (so host work overlaps the device step) and pulls upstream only while it has room;
// downstream it emits only when its own consumer has room. Under a plain subscribe it passes items
// straight through.

import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { currentPullContext, runInPullContext, type PullContext } from './context.js';
import { PositionRecorder, type Snapshot } from './position.js';
import { Signal } from './signal.js';

export function prefetch<T>(n: number): MonoTypeOperatorFunction<T> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`prefetch: n must be a positive integer, got ${n}`);
  return (source) =>
    new Observable<T>((subscriber) => {
      const parent = currentPullContext();
      const recorder = parent?.recorder ?? new PositionRecorder();
      const buffer: Array<{ readonly value: T; readonly snap: Snapshot }> = [];
      const room = new Signal();
      const arrived = new Signal();
      let upstreamDone = false;
      let failure: { readonly err: unknown } | null = null;
      let stopped = false;

      const ctx: PullContext = { recorder, waitForRoom: () => (buffer.length < n ? null : room.wait()) };
      const upstream = runInPullContext(ctx, () =>
        source.subscribe({
          next: (value) => {
            buffer.push({ value, snap: recorder.snapshot() });
            arrived.notify();
          },
          error: (err: unknown) => {
            failure = { err };
            arrived.notify();
          },
          complete: () => {
            upstreamDone = true;
            arrived.notify();
          },
        }),
      );

      const pump = async (): Promise<void> => {
        while (!stopped) {
          const item = buffer[0];
          if (!item) {
            // Items made before an error are still delivered, then the error.
            if (failure) return subscriber.error(failure.err);
            if (upstreamDone) return subscriber.complete();
            await arrived.wait();
            continue;
          }
          const wait = parent?.waitForRoom() ?? null;
          if (wait) {
            await wait;
            continue;
          }
          buffer.shift();
          room.notify();
          // The item keeps the position of when it was made, not of when it leaves the buffer.
          recorder.emitAt(item.snap, () => subscriber.next(item.value));
        }
      };
      void pump();

      return () => {
        stopped = true;
        upstream.unsubscribe();
        room.notify();
        arrived.notify();
      };
    });
}
