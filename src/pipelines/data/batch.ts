// batch: groups consecutive items into arrays of `size`; the last short batch is emitted unless
// dropLast (fixed shapes keep a compiled step from seeing a new batch size).

import { Observable, type OperatorFunction } from 'rxjs';

export interface BatchOptions {
  dropLast?: boolean;
}

export function batch<T>(size: number, opts: BatchOptions = {}): OperatorFunction<T, T[]> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`batch: size must be a positive integer, got ${size}`);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let current: T[] = [];
      return source.subscribe({
        next: (item) => {
          current.push(item);
          if (current.length === size) {
            const out = current;
            current = [];
            subscriber.next(out);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          if (current.length > 0 && !opts.dropLast) subscriber.next(current);
          current = [];
          subscriber.complete();
        },
      });
    });
}
