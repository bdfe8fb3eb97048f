// seededShuffle: a shuffle buffer (as in tf.data). The first `bufferSize` items fill it; each later
// item replaces a uniformly drawn one, which is emitted; at the end the rest leave in random order.
// Same seed and input -> same order. The RNG state is reported to the pipeline's position.
// Memory: bufferSize items. Randomness: an item moves at most ~bufferSize places early, so the
// buffer should cover several label/length runs of the file.

import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { currentPullContext } from './context.js';
import { SeededRng } from './rng.js';

export function seededShuffle<T>(bufferSize: number, seed: number): MonoTypeOperatorFunction<T> {
  if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new Error(`seededShuffle: bufferSize must be a positive integer, got ${bufferSize}`);
  return (source) =>
    new Observable<T>((subscriber) => {
      const rng = new SeededRng(seed); // fresh per subscription: a replay starts the stream anew
      currentPullContext()?.recorder.registerRng(rng);
      const buf: T[] = [];
      return source.subscribe({
        next: (item) => {
          if (buf.length < bufferSize) {
            buf.push(item);
            return;
          }
          const j = rng.below(bufferSize);
          const out = buf[j];
          buf[j] = item;
          subscriber.next(out);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          while (buf.length > 0) {
            const j = rng.below(buf.length);
            const out = buf[j];
            buf[j] = buf[buf.length - 1];
            buf.pop();
            subscriber.next(out);
          }
          subscriber.complete();
        },
      });
    });
}
